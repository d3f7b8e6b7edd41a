//! Developer tasks for the local stack. Not deployed.
//!
//! cargo xtask create-table      create the table (TABLE_NAME) in DynamoDB Local
//! cargo xtask records [PREFIX]  print every item, or those whose pk starts with PREFIX
//! cargo xtask publisher         the publisher on DynamoDB Local's stream, onto the local
//!                               bus (moto), as Lambda's event-source mapping would run it
//! cargo xtask events [--ordered] print (and remove) what reached the local event queue,
//!                               or the ordered (FIFO) queue
//! cargo xtask gen-events        rewrite events/ from the sample bodies, signed
//! cargo xtask fake-apis PORT    fake CityPay order API on 127.0.0.1:PORT, CCPayment's
//!                               v1 resend/bill API on PORT+1 and its v2 record, order,
//!                               list and resend APIs on PORT+2, for the local stack
//!
//! What an operator runs against a deployment (and the local stack) is the
//! `payments-ops` command line (`ops/`).

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod events;

use std::process::ExitCode;

use aws_sdk_dynamodb::types::AttributeValue;

use events::Result;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("create-table") => create_table().await,
        Some("records") => records(args.get(1).map(String::as_str)).await,
        Some("publisher") => publisher().await,
        Some("events") => print_events(args.get(1).is_some_and(|a| a == "--ordered")).await,
        Some("gen-events") => events::generate(),
        Some("fake-apis") => fake_apis(args.get(1).map(String::as_str)).await,
        _ => {
            eprintln!(
                "usage: cargo xtask <create-table | records [PREFIX] | publisher | events [--ordered] | gen-events | fake-apis PORT> (operator commands: payments-ops --help)"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn table_name() -> Result<String> {
    std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is not set".into())
}

async fn create_table() -> Result<()> {
    let client = shared::store::dynamodb_client().await;
    let table = table_name()?;
    shared::store::schema::create_table_with_stream(&client, &table).await?;
    println!("table {table} ready");
    Ok(())
}

/// The local bus and queue, both named after `EVENT_BUS_NAME`.
async fn local_bus() -> Result<testkit::bus::LocalBus> {
    let name = std::env::var("EVENT_BUS_NAME").unwrap_or_else(|_| "payment-webhooks-local".into());
    let config = shared::store::sdk_config().await;
    testkit::bus::LocalBus::create(
        aws_sdk_eventbridge::Client::new(config),
        aws_sdk_sqs::Client::new(config),
        &name,
    )
    .await
    .map_err(|e| e.to_string().into())
}

/// Runs until killed: every half second, what is new on the stream goes to the bus.
async fn publisher() -> Result<()> {
    let bus = local_bus().await?;
    let client = shared::store::dynamodb_client().await;
    let streams = aws_sdk_dynamodbstreams::Client::new(shared::store::sdk_config().await);
    let mut poller = testkit::stream::StreamPoller::new(&client, streams, &table_name()?)
        .await
        .map_err(|e| e.to_string())?;
    let fifo = bus
        .create_fifo_queue(&bus.bus)
        .await
        .map_err(|e| e.to_string())?;
    let publisher = shared::publish::Publisher::new(
        bus.eventbridge.clone(),
        &bus.bus,
        shared::publish::handler::DEFAULT_SOURCE,
        shared::metrics::Metrics::from_env(),
    )
    .with_ordered_queue(shared::publish::OrderedQueue::new(bus.sqs.clone(), &fifo));
    println!(
        "publishing the stream of {} onto bus {} (queue {}) and the ordered queue {fifo}",
        table_name()?,
        bus.bus,
        bus.queue_url
    );
    let publisher = &publisher;
    loop {
        let handled = poller
            .poll_once(|e| async move {
                publisher
                    .handle(e)
                    .await
                    .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
            })
            .await;
        if let Err(e) = handled {
            eprintln!("stream poll failed: {e}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// From the bus's queue, or with `--ordered` from the FIFO queue, with each
/// message's group.
async fn print_events(ordered: bool) -> Result<()> {
    let bus = local_bus().await?;
    let events = if ordered {
        let fifo = bus
            .create_fifo_queue(&bus.bus)
            .await
            .map_err(|e| e.to_string())?;
        testkit::bus::drain_queue(&bus.sqs, &fifo)
            .await
            .map_err(|e| e.to_string())?
    } else {
        bus.drain()
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|e| (None, e))
            .collect()
    };
    for (group, e) in &events {
        let group = group
            .as_deref()
            .map(|g| format!("[{g}] "))
            .unwrap_or_default();
        println!(
            "{group}{} {}",
            e["detail-type"].as_str().unwrap_or("?"),
            e["detail"]
        );
    }
    eprintln!("{} event(s)", events.len());
    Ok(())
}

async fn records(prefix: Option<&str>) -> Result<()> {
    let client = shared::store::dynamodb_client().await;
    let table = table_name()?;
    let mut start = None;
    let mut count = 0;
    loop {
        let mut scan = client
            .scan()
            .table_name(&table)
            .set_exclusive_start_key(start);
        if let Some(p) = prefix {
            scan = scan
                .filter_expression("begins_with(pk, :p)")
                .expression_attribute_values(":p", AttributeValue::S(p.to_string()));
        }
        let page = scan.send().await?;
        for item in page.items() {
            let value: serde_json::Value = serde_dynamo::from_item(item.clone())?;
            println!("{value}");
            count += 1;
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    eprintln!("{count} item(s)");
    Ok(())
}

/// Runs until killed. Order tokens answer by prefix (`paid-...` CONFIRMED, ...):
/// see `testkit::citypay`; so do v2 record ids (`risky-...`, `fail-...`): see
/// `testkit::ccpayment_v2`. The CCPayment fake signs with the local credentials and
/// the real clock, and enforces the resend limits.
async fn fake_apis(port: Option<&str>) -> Result<()> {
    let port: u16 = port.unwrap_or("9100").parse()?;
    let citypay =
        testkit::citypay::FakeCityPay::start_on(std::net::TcpListener::bind(("127.0.0.1", port))?)
            .await;
    let clock = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(shared::clock::now_unix()));
    let ccpayment = testkit::ccpayment::FakeCcpayment::start_on(
        std::net::TcpListener::bind(("127.0.0.1", port + 1))?,
        &std::env::var("CCPAYMENT_APP_ID").unwrap_or_else(|_| events::LOCAL_APP_ID.into()),
        &std::env::var("CCPAYMENT_APP_SECRET").unwrap_or_else(|_| events::LOCAL_APP_SECRET.into()),
        clock.clone(),
    )
    .await;
    let ccpayment_v2 = testkit::ccpayment_v2::FakeCcpaymentV2::start_on(
        std::net::TcpListener::bind(("127.0.0.1", port + 2))?,
        &std::env::var("CCPAYMENT_V2_APP_ID").unwrap_or_else(|_| events::LOCAL_V2_APP_ID.into()),
        &std::env::var("CCPAYMENT_V2_APP_SECRET")
            .unwrap_or_else(|_| events::LOCAL_V2_APP_SECRET.into()),
    )
    .await;
    println!("fake CityPay order API on {}", citypay.base_url());
    println!("fake CCPayment API on {}", ccpayment.base_url());
    println!("fake CCPayment API v2 on {}", ccpayment_v2.base_url());
    loop {
        clock.store(
            shared::clock::now_unix(),
            std::sync::atomic::Ordering::SeqCst,
        );
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}
