//! Rebuild when a message catalogue changes: rust-i18n compiles `locales/*.yml` into the
//! library, but cargo does not know the macro read them.
fn main() {
    println!("cargo:rerun-if-changed=locales");
}
