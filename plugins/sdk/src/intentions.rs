//! Intention evaluators (world `intention-evaluator`): the [`IntentionEvaluator`] trait and its
//! bridge to the generated bindings.

use crate::bindings::intentions::exports::praetor::plugins::intentions as wit;
use crate::slot::Slot;
use praetor_policy::intentions::{
    Action, Decision, HeaderMatch, HttpRequest, Identity, Intention, Permission, Request,
};

/// Decides whether one service may talk to another. Export with
/// `export_plugin!(intentions: MyType)`. [`praetor_policy::Evaluator`] is Consul's logic.
///
/// ```
/// use praetor_plugin_sdk::{Decision, Evaluator, Intention, IntentionEvaluator, Request, policy};
///
/// /// Consul's evaluation, but nothing may reach `vault` from outside its namespace.
/// #[derive(Default)]
/// struct GuardVault {
///     consul: Evaluator,
/// }
///
/// impl IntentionEvaluator for GuardVault {
///     fn update(&mut self, intentions: Vec<Intention>, default_allow: bool) -> Result<(), String> {
///         self.consul = Evaluator::new(intentions, default_allow)?;
///         Ok(())
///     }
///
///     fn evaluate(&self, request: &Request) -> Decision {
///         let (src, dst) = (&request.source, &request.destination);
///         if dst.service == "vault" && src.namespace != dst.namespace {
///             return Decision { allowed: false, reason: "vault is namespace-local".into(), intention_id: None };
///         }
///         self.consul.evaluate(request)
///     }
/// }
///
/// let mut guard = GuardVault::default();
/// guard.update(vec![Intention::new("1", "*", "vault", policy::Action::Allow)], false).unwrap();
/// let mut request = Request { source: policy::Identity::service("web"), destination: policy::Identity::service("vault"), http: None };
/// assert!(guard.evaluate(&request).allowed);
/// request.source.namespace = "team-b".into();
/// assert!(!guard.evaluate(&request).allowed);
///
/// praetor_plugin_sdk::export_plugin!(intentions: GuardVault);
/// ```
pub trait IntentionEvaluator: Default + 'static {
    /// Applies the slot's configuration (see [`crate::AddressTranslator::configure`]). The
    /// default accepts any configuration.
    fn configure(&mut self, config_json: &str) -> Result<(), String> {
        let _ = config_json;
        Ok(())
    }

    /// Replaces the whole intention set and the default verdict (`default_allow` is the ACL
    /// default policy "allow"). An `Err` makes the host keep the previous set.
    fn update(&mut self, intentions: Vec<Intention>, default_allow: bool) -> Result<(), String>;

    /// Decides one request against the current set. Must not fail.
    fn evaluate(&self, request: &Request) -> Decision;
}

impl<S> wit::Guest for S
where
    S: Slot,
    S::Plugin: IntentionEvaluator,
{
    fn update(intentions: Vec<wit::Intention>, default_allow: bool) -> Result<(), String> {
        let intentions = intentions.into_iter().map(Intention::from).collect();
        S::with(|plugin| plugin.update(intentions, default_allow))
    }

    fn evaluate(request: wit::Request) -> wit::Decision {
        let request = Request::from(request);
        let decision = S::with(|plugin| plugin.evaluate(&request));
        wit::Decision {
            allowed: decision.allowed,
            reason: decision.reason,
            intention_id: decision.intention_id,
        }
    }
}

fn action(a: wit::Action) -> Action {
    match a {
        wit::Action::Allow => Action::Allow,
        wit::Action::Deny => Action::Deny,
    }
}

fn identity(i: wit::Identity) -> Identity {
    Identity {
        service: i.service,
        namespace: i.namespace,
        partition: i.partition,
        datacenter: i.datacenter,
        trust_domain: i.trust_domain,
    }
}

impl From<wit::Intention> for Intention {
    fn from(i: wit::Intention) -> Self {
        Intention {
            id: i.id,
            source_name: i.source_name,
            source_namespace: i.source_namespace,
            source_partition: i.source_partition,
            source_peer: i.source_peer,
            destination_name: i.destination_name,
            destination_namespace: i.destination_namespace,
            destination_partition: i.destination_partition,
            action: action(i.action),
            permissions: i
                .permissions
                .into_iter()
                .map(|p| Permission {
                    action: action(p.action),
                    path_exact: p.path_exact,
                    path_prefix: p.path_prefix,
                    path_regex: p.path_regex,
                    methods: p.methods,
                    headers: p
                        .headers
                        .into_iter()
                        .map(|h| HeaderMatch {
                            name: h.name,
                            present: h.present,
                            exact: h.exact,
                            prefix: h.prefix,
                            suffix: h.suffix,
                            regex: h.regex,
                            invert: h.invert,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

impl From<wit::Request> for Request {
    fn from(r: wit::Request) -> Self {
        Request {
            source: identity(r.source),
            destination: identity(r.destination),
            http: r.http.map(|h| HttpRequest {
                method: h.method,
                path: h.path,
                headers: h.headers,
            }),
        }
    }
}
