//! Accounts of card holders: the person's own page and suspension by an operator. The SQL is in
//! [`store::accounts`](crate::store::accounts).

pub mod page;
pub mod passkeys;
pub mod staff;
pub mod suspension;
