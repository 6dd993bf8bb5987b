//! Rebuilds when a migration is added: `embed_migrations!` reads the `migrations/`
//! folder at compile time, and cargo does not notice a new folder in it by itself.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
