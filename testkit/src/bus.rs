//! A bus and a queue on moto's server (the local EventBridge and SQS), wired the
//! way a merchant would: a rule sends every payment event to the queue.

use std::time::Duration;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};

type Error = Box<dyn std::error::Error + Send + Sync>;

pub const RULE: &str = "payments-to-queue";
pub const PATTERN: &str =
    r#"{"source":["payment-webhooks"],"detail-type":[{"prefix":"payment."}]}"#;

#[derive(Debug, Clone)]
pub struct LocalBus {
    pub eventbridge: aws_sdk_eventbridge::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub bus: String,
    pub queue_url: String,
}

impl LocalBus {
    /// Creates (or finds) the bus `name`, the queue `name` and the rule between.
    pub async fn create(
        eventbridge: aws_sdk_eventbridge::Client,
        sqs: aws_sdk_sqs::Client,
        name: &str,
    ) -> Result<Self, Error> {
        if eventbridge
            .describe_event_bus()
            .name(name)
            .send()
            .await
            .is_err()
        {
            eventbridge.create_event_bus().name(name).send().await?;
        }
        let queue_url = sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await?
            .queue_url()
            .ok_or("no queue url")?
            .to_string();
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await?;
        let arn = attrs
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::QueueArn))
            .ok_or("no queue arn")?
            .clone();
        eventbridge
            .put_rule()
            .event_bus_name(name)
            .name(RULE)
            .event_pattern(PATTERN)
            .send()
            .await?;
        eventbridge
            .put_targets()
            .event_bus_name(name)
            .rule(RULE)
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("queue")
                    .arn(arn)
                    .build()?,
            )
            .send()
            .await?;
        Ok(Self {
            eventbridge,
            sqs,
            bus: name.to_string(),
            queue_url,
        })
    }

    /// Every message on the queue until it stays empty for a moment, deleted as read.
    pub async fn drain(&self) -> Result<Vec<serde_json::Value>, Error> {
        Ok(drain_queue(&self.sqs, &self.queue_url)
            .await?
            .into_iter()
            .map(|(_, body)| body)
            .collect())
    }

    /// A FIFO queue `<name>.fifo` (no content-based deduplication: the sender
    /// gives each message its id), for the publisher's ordered queue.
    pub async fn create_fifo_queue(&self, name: &str) -> Result<String, Error> {
        Ok(self
            .sqs
            .create_queue()
            .queue_name(format!("{name}.fifo"))
            .attributes(QueueAttributeName::FifoQueue, "true")
            .attributes(QueueAttributeName::ContentBasedDeduplication, "false")
            .send()
            .await?
            .queue_url()
            .ok_or("no queue url")?
            .to_string())
    }
}

/// Every message on `url` with its message group (FIFO queues), in the order
/// received, until the queue stays empty for a moment; each is deleted as read.
pub async fn drain_queue(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
) -> Result<Vec<(Option<String>, serde_json::Value)>, Error> {
    let mut out = Vec::new();
    let mut empty = 0;
    while empty < 3 {
        let r = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .send()
            .await?;
        if r.messages().is_empty() {
            empty += 1;
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        for m in r.messages() {
            let group = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::MessageGroupId))
                .cloned();
            let body = m.body().unwrap_or("null");
            crate::contracts::keep(crate::contracts::Kind::Event, 0, body);
            out.push((group, serde_json::from_str(body)?));
            if let Some(handle) = m.receipt_handle() {
                sqs.delete_message()
                    .queue_url(url)
                    .receipt_handle(handle)
                    .send()
                    .await?;
            }
        }
    }
    Ok(out)
}
