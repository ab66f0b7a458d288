//! Microsoft Teams, through the Bot Framework: Latch's bot receives activities at its
//! messaging endpoint and answers through the Bot Connector service.
//!
//! [`auth`] authenticates every inbound activity before anything in it is trusted;
//! [`connector`] sends, with a token from the bot's Entra ID tenant.

pub mod auth;
pub mod connector;
