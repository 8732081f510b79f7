mod account;
mod admin;
mod auth;
mod dealer;
mod home;
mod not_found;
mod notifications;

pub use account::AccountPage;
pub use admin::AdminPage;
pub use auth::{SignInPage, SignUpPage};
pub use dealer::DealerPage;
pub use home::HomePage;
pub use not_found::NotFound;
pub use notifications::NotificationsPage;
