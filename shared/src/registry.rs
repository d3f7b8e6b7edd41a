//! Every provider in one list, above the provider modules: each of them knows
//! only itself and the pipeline below it, and whatever must cover them all (the
//! lookup's and the operator's checks, the tests, the template checks) reads this.

use crate::provider::ProviderInfo;

/// Every provider, in the order the README lists them.
pub const ALL: &[&ProviderInfo] = &[
    &crate::ccpayment::INFO,
    &crate::ccpayment_v2::INFO,
    &crate::alchemypay::INFO,
    &crate::citypay::INFO,
];

#[cfg(test)]
mod tests {
    use super::ALL;

    #[test]
    fn names_and_functions_are_unique_and_consistent() {
        let mut names: Vec<_> = ALL.iter().map(|p| p.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        for p in ALL {
            assert_eq!(p.function, format!("{}-webhook", p.name));
            assert!(p.route.starts_with(&format!("/webhooks/{}", p.name)));
            for q in p.open_queues {
                assert!(q.starts_with(&format!("{}#", p.name)), "{q}");
            }
            for q in p.unconfirmable_queues {
                assert!(p.open_queues.contains(q), "{q}");
            }
        }
    }
}
