//! `CacheLine<T>`: a value alone on its cache lines.
//!
//! Two threads that write to different values sharing a cache line still fight over
//! the line ("false sharing"): each write takes it from the other core. Lock-striped
//! tables are arrays of small locks, so neighbouring stripes, and counters next to
//! read-mostly fields, share lines unless padded. Parallel replay showed it: with two
//! lanes on alternate shards, a third of one function's time was the unlock of a
//! shard lock whose line the other lane had just taken.
//!
//! 128 bytes, not 64: x86 cores prefetch cache lines in adjacent pairs.

use std::ops::{Deref, DerefMut};

#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct CacheLine<T>(pub(crate) T);

impl<T> Deref for CacheLine<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for CacheLine<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}
