//! The demo store: a few accounts of each kind with known credentials (idempotent: existing
//! accounts are left as they are). The catalogue issue adds dealers' listings.

use accounts::{Accounts, AccountsError, Role};

pub struct DemoAccount {
    pub email: &'static str,
    pub name: &'static str,
    pub role: Role,
}

pub const DEMO_PASSWORD: &str = "bespoke-demo";

pub const DEMO_ACCOUNTS: &[DemoAccount] = &[
    DemoAccount { email: "admin@bespoke.test", name: "Ada Admin", role: Role::Admin },
    DemoAccount { email: "oak@bespoke.test", name: "Oak & Iron Workshop", role: Role::Dealer },
    DemoAccount { email: "loom@bespoke.test", name: "Loom Street Textiles", role: Role::Dealer },
    DemoAccount { email: "clay@bespoke.test", name: "Riverside Clay Studio", role: Role::Dealer },
    DemoAccount { email: "carmen@bespoke.test", name: "Carmen Customer", role: Role::Customer },
    DemoAccount { email: "kai@bespoke.test", name: "Kai Customer", role: Role::Customer },
];

pub async fn run(accounts: &Accounts) -> Result<(), AccountsError> {
    for a in DEMO_ACCOUNTS {
        match accounts.create_with_role(a.email, a.name, DEMO_PASSWORD, a.role).await {
            Ok(_) | Err(AccountsError::EmailTaken) => {}
            Err(e) => return Err(e),
        }
    }
    println!("demo accounts (password for all: {DEMO_PASSWORD}):");
    for a in DEMO_ACCOUNTS {
        println!("  {:<9} {}", a.role.as_str(), a.email);
    }
    Ok(())
}
