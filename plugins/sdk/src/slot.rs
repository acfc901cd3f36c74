//! The glue between `export_plugin!` and the generated bindings: a [`Slot`] owns the plugin
//! instance of a component (one per component instance, created with `Default` on first use)
//! and the blanket `Guest` implementations in the kind modules call into it.

#[doc(hidden)]
pub use std::cell::RefCell;
#[doc(hidden)]
pub use std::thread_local;

/// Implemented by the type `export_plugin!` declares in the plugin's crate.
#[doc(hidden)]
pub trait Slot: 'static {
    /// The plugin author's type.
    type Plugin: 'static;

    /// Runs `f` on the component's plugin instance.
    fn with<R>(f: impl FnOnce(&mut Self::Plugin) -> R) -> R;

    /// The plugin kind's `configure`.
    fn configure(config_json: &str) -> Result<(), String>;
}

impl<S: Slot> crate::bindings::lifecycle::exports::praetor::plugins::lifecycle::Guest for S {
    fn configure(config_json: String) -> Result<(), String> {
        S::configure(&config_json)
    }
}

/// Declares the slot type `$slot` for `$plugin` and exports the lifecycle plus one kind's
/// interface. `export_plugin!` names the slot `__PraetorPlugin`; the SDK's tests name their own
/// to call the generated `Guest` traits directly.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_slot {
    ($slot:ident, $plugin:ty, $kind:path, $world_macro:ident, $module:ident) => {
        #[doc(hidden)]
        struct $slot;

        impl $crate::__private::Slot for $slot {
            type Plugin = $plugin;

            fn with<R>(f: impl FnOnce(&mut $plugin) -> R) -> R {
                $crate::__private::thread_local! {
                    static PLUGIN: $crate::__private::RefCell<::core::option::Option<$plugin>> =
                        const { $crate::__private::RefCell::new(::core::option::Option::None) };
                }
                PLUGIN.with(|cell| {
                    let mut slot = cell.borrow_mut();
                    f(slot.get_or_insert_with(<$plugin as ::core::default::Default>::default))
                })
            }

            fn configure(config_json: &str) -> ::core::result::Result<(), ::std::string::String> {
                Self::with(|plugin| <$plugin as $kind>::configure(plugin, config_json))
            }
        }

        $crate::__export_plugin_lifecycle_impl!($slot with_types_in $crate::bindings::lifecycle);
        $crate::$world_macro!($slot with_types_in $crate::bindings::$module);
    };
}
