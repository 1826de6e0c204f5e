//! The mTLS listener (next).
