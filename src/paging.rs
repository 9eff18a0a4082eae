//! The one paging rule of every list the engine serves: game versions, game records,
//! tournaments, their bound games, and leaderboard ranks.
//!
//! A page is an offset (entries to skip) and a size. On the wire a negative offset
//! (or page number) reads as 0, as the Publisher Manual says of its `offset`
//! parameters (§5.3.4, §5.5, §5.10); a size of 0 or less means [`PAGE_SIZE_DEFAULT`];
//! a size above [`PAGE_SIZE_MAX`] is refused, not clamped, so that a caller never gets
//! fewer entries than it asked for without knowing why. Domain queries take a
//! [`Page`], which is valid by construction.

/// Entries in a page when the caller names no size.
pub const PAGE_SIZE_DEFAULT: usize = 10;
/// Most entries one page may hold.
pub const PAGE_SIZE_MAX: usize = 1000;

/// Why a page request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("size must be at most {PAGE_SIZE_MAX}")]
    TooLarge,
    #[error("the page is out of range")]
    OutOfRange,
}

/// A valid page request: `size` is 1 to [`PAGE_SIZE_MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    offset: usize,
    size: usize,
}

impl Page {
    /// The first page of `size` entries (internal callers; `size` is capped).
    pub fn first(size: usize) -> Page {
        Page {
            offset: 0,
            size: size.clamp(1, PAGE_SIZE_MAX),
        }
    }

    /// A page from a wire offset and size.
    pub fn new(offset: i64, size: i64) -> Result<Page, PageError> {
        let offset = usize::try_from(offset.max(0)).map_err(|_| PageError::OutOfRange)?;
        Ok(Page {
            offset,
            size: page_size(size)?,
        })
    }

    /// Page number `page` (from 0) of pages of `size` entries.
    pub fn numbered(page: i64, size: i64) -> Result<Page, PageError> {
        let page = usize::try_from(page.max(0)).map_err(|_| PageError::OutOfRange)?;
        let size = page_size(size)?;
        let offset = page.checked_mul(size).ok_or(PageError::OutOfRange)?;
        Ok(Page { offset, size })
    }

    pub fn offset(self) -> usize {
        self.offset
    }

    pub fn size(self) -> usize {
        self.size
    }

    /// The entries of this page, from an iterator over the whole list in order.
    pub fn of<T>(self, all: impl Iterator<Item = T>) -> impl Iterator<Item = T> {
        all.skip(self.offset).take(self.size)
    }
}

/// A wire page size: 0 or less means [`PAGE_SIZE_DEFAULT`]; otherwise at most
/// [`PAGE_SIZE_MAX`].
pub fn page_size(size: i64) -> Result<usize, PageError> {
    match usize::try_from(size) {
        Err(_) | Ok(0) => Ok(PAGE_SIZE_DEFAULT),
        Ok(n) if n > PAGE_SIZE_MAX => Err(PageError::TooLarge),
        Ok(n) => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_checked_not_clamped() {
        assert_eq!(Page::new(0, 0).map(Page::size), Ok(PAGE_SIZE_DEFAULT));
        assert_eq!(
            Page::new(5, 1000).map(|p| (p.offset(), p.size())),
            Ok((5, 1000))
        );
        assert_eq!(Page::new(-1, 10), Page::new(0, 10));
        assert_eq!(Page::new(0, -1).map(Page::size), Ok(PAGE_SIZE_DEFAULT));
        assert_eq!(Page::new(0, 1001), Err(PageError::TooLarge));
        assert_eq!(Page::numbered(3, 10).map(Page::offset), Ok(30));
        assert_eq!(Page::numbered(-1, 10), Page::numbered(0, 10));
        assert_eq!(Page::numbered(i64::MAX, 1000), Err(PageError::OutOfRange));
        let page = Page::new(2, 3).expect("valid");
        assert_eq!(page.of(0..10).collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(Page::first(0).size(), 1);
        assert_eq!(Page::first(5000).size(), PAGE_SIZE_MAX);
    }
}
