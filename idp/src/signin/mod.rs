//! Sign-in methods, one module each: [`card`] (the HPKI card through the bridge, Web eID
//! protocol), [`certificate`] (the card's certificate as a TLS client certificate) and, in demo
//! mode only, [`virtual_card`]. Each ends by starting a [`session`](crate::session).

pub mod card;
pub mod certificate;
pub mod virtual_card;
