//! `config_table!`: turns the one table of sections and keys in [`super::keys`] into everything
//! else a key needs, so that a key is defined once.
//!
//! Owns what the table generates: for each section the typed struct (public, with each key's
//! doc) and its `Default`, the raw serde struct (every key optional, unknown keys refused) and
//! its validation into the typed struct; for the whole file [`super::Config`],
//! `RawConfig`, the dotted key names (`key::network::max_peers` is `"network.max_peers"`),
//! `Config::KEYS` and `Config::toml_values`. It must not name a section or a key, nor hold a
//! value rule: those are the table's and [`super::validate`]'s.
//!
//! A row reads `name: Type = default_expression, Rule;` where the rule (a type implementing
//! [`super::validate::Rule`]) decides the key's TOML shape, its checks and how its value is
//! written back; without one the type's own (`Plain`) applies. A section may name a `check`
//! function that runs on the whole validated section (rules between keys).

/// The rule of a row: the one given, else the type's own.
macro_rules! rule_of {
    () => {
        $crate::config::validate::Plain
    };
    ($rule:ty) => {
        $rule
    };
}
pub(super) use rule_of;

/// See the module documentation.
macro_rules! config_table {
    (
        $(
            $(#[$section_doc:meta])*
            [$section:ident] $Section:ident, $Raw:ident $(, check = $check:path)? {
                $(
                    $(#[$key_doc:meta])*
                    $key:ident: $ty:ty = $default:expr $(, $rule:ty)?;
                )*
            }
        )*
    ) => {
        /// A loaded, validated config: one field per section of the file.
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct Config {
            $(
                #[doc = concat!("`[", stringify!($section), "]`")]
                pub $section: $Section,
            )*
        }

        $(
            $(#[$section_doc])*
            #[derive(Debug, Clone, PartialEq, Eq)]
            pub struct $Section {
                $(
                    $(#[$key_doc])*
                    pub $key: $ty,
                )*
            }

            impl Default for $Section {
                fn default() -> $Section {
                    $Section {
                        $( $key: $default, )*
                    }
                }
            }

            #[doc = concat!("`[", stringify!($section), "]` as serde reads it.")]
            #[derive(Debug, Default, ::serde::Deserialize)]
            #[serde(default, deny_unknown_fields)]
            pub(super) struct $Raw {
                $(
                    pub $key: Option<
                        <$crate::config::table::rule_of!($($rule)?)
                            as $crate::config::validate::Rule<$ty>>::Raw
                    >,
                )*
            }

            impl $Raw {
                /// Checks what the file gives; what it leaves out takes the default.
                pub(super) fn validate(self) -> $crate::config::validate::Checked<$Section> {
                    let default = $Section::default();
                    let section = $Section {
                        $(
                            $key: match self.$key {
                                None => default.$key,
                                Some(raw) => <$crate::config::table::rule_of!($($rule)?)
                                    as $crate::config::validate::Rule<$ty>>::check(
                                        key::$section::$key,
                                        raw,
                                    )?,
                            },
                        )*
                    };
                    $( $check(&section)?; )?
                    Ok(section)
                }
            }
        )*

        /// The whole file as serde reads it.
        #[derive(Debug, Default, ::serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub(super) struct RawConfig {
            $( pub $section: $Raw, )*
        }

        impl RawConfig {
            /// Builds the validated config; what the file leaves out is [`Config::default`]'s.
            pub(super) fn validate(self) -> $crate::config::validate::Checked<Config> {
                Ok(Config {
                    $( $section: self.$section.validate()?, )*
                })
            }
        }

        /// The dotted name of every key, as errors name it: `key::network::max_peers` is
        /// `"network.max_peers"`.
        #[allow(non_upper_case_globals, dead_code)]
        pub(super) mod key {
            $(
                pub mod $section {
                    $(
                        pub const $key: &str = concat!(stringify!($section), ".", stringify!($key));
                    )*
                }
            )*
        }

        impl Config {
            /// The dotted name (`network.max_peers`) of every key, sections and keys in the
            /// order of the table (and of `conf/aelf-netd.toml`).
            pub const KEYS: &'static [&'static str] = &[
                $( $( key::$section::$key, )* )*
            ];

            /// Every key's dotted name with its value as the file writes it (the default of
            /// `Config::default().toml_values()`), in the order of [`Config::KEYS`].
            pub fn toml_values(&self) -> Vec<(&'static str, ::toml::Value)> {
                vec![
                    $( $(
                        (
                            key::$section::$key,
                            <$crate::config::table::rule_of!($($rule)?)
                                as $crate::config::validate::Rule<$ty>>::render(
                                    &self.$section.$key,
                                ),
                        ),
                    )* )*
                ]
            }
        }
    };
}
pub(super) use config_table;
