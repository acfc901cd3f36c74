//! Intention evaluator: Consul's precedence, deny-wins ties, L7 permissions and the ACL
//! default, from `praetor_policy::intentions::Evaluator` (prepared once per `update`).

use praetor_plugin_sdk::{
    Decision, Evaluator, Intention, IntentionEvaluator, Request, export_plugin, json,
};

#[derive(Default)]
struct IntentionsConsul {
    evaluator: Evaluator,
}

impl IntentionEvaluator for IntentionsConsul {
    fn configure(&mut self, config_json: &str) -> Result<(), String> {
        json::expect_empty_object(config_json)
    }

    fn update(&mut self, intentions: Vec<Intention>, default_allow: bool) -> Result<(), String> {
        // Build first: a refused set leaves the current one in place.
        self.evaluator = Evaluator::new(intentions, default_allow)?;
        Ok(())
    }

    fn evaluate(&self, request: &Request) -> Decision {
        self.evaluator.evaluate(request)
    }
}

export_plugin!(intentions: IntentionsConsul);

#[cfg(test)]
mod tests {
    use super::*;
    use praetor_policy::{Action, Identity};

    #[test]
    fn refused_update_keeps_the_previous_set() {
        let mut plugin = IntentionsConsul::default();
        let request = Request {
            source: Identity::service("web"),
            destination: Identity::service("db"),
            http: None,
        };
        assert!(
            !plugin.evaluate(&request).allowed,
            "no set yet: default deny"
        );
        plugin
            .update(vec![Intention::new("1", "web", "db", Action::Allow)], false)
            .unwrap();
        assert_eq!(plugin.evaluate(&request).intention_id.as_deref(), Some("1"));
        assert!(
            plugin
                .update(vec![Intention::new("2", "we*", "db", Action::Deny)], false)
                .is_err()
        );
        assert!(plugin.evaluate(&request).allowed);
    }
}
