//! Test intention evaluator: with `{"allowed": B}` it answers B for every request (no
//! intention decides); with `{}` it evaluates like the built-in. Used by the hot-swap tests.

use praetor_plugin_sdk::{
    Decision, Evaluator, Intention, IntentionEvaluator, Request, export_plugin, json,
};

#[derive(Default)]
struct Fixed {
    allowed: Option<bool>,
    evaluator: Evaluator,
}

impl IntentionEvaluator for Fixed {
    fn configure(&mut self, config_json: &str) -> Result<(), String> {
        let v = json::parse(config_json).map_err(|e| e.to_string())?;
        if v.as_object().is_none() {
            return Err("config must be an object".into());
        }
        self.allowed = match v.get("allowed") {
            None => None,
            Some(b) => Some(b.as_bool().ok_or("allowed must be a boolean")?),
        };
        Ok(())
    }

    fn update(&mut self, intentions: Vec<Intention>, default_allow: bool) -> Result<(), String> {
        self.evaluator = Evaluator::new(intentions, default_allow)?;
        Ok(())
    }

    fn evaluate(&self, request: &Request) -> Decision {
        match self.allowed {
            Some(allowed) => Decision {
                allowed,
                reason: format!("fixed verdict ({allowed})"),
                intention_id: None,
            },
            None => self.evaluator.evaluate(request),
        }
    }
}

export_plugin!(intentions: Fixed);
