//! Touching memory before the audio thread needs it.
//!
//! A fresh allocation is only address space: the kernel maps each page on its first
//! touch, and a large one (`calloc` of a zeroed buffer) is handed out as untouched pages
//! of a shared zero page. Left alone, the audio thread would take those page faults (a
//! trip into the kernel each, and a wait for memory) during its first laps through a
//! ring or a buffer. Builders call these functions, off the audio thread, on everything
//! the audio thread will touch.
//!
//! ```
//! let mut buffer = vec![0.0f32; 1 << 16];
//! troubadour_rt::prefault::touch(&mut buffer);
//! assert!(buffer.iter().all(|&x| x == 0.0)); // contents unchanged
//! ```

/// The smallest page size of the platforms we run on; touching more often than the real
/// page size costs a few extra writes and nothing else.
pub const PAGE_BYTES: usize = 4096;

/// Writes every page of `buffer` (each value is written back unchanged) so that each
/// page is mapped and private to this process.
pub fn touch<T: Copy>(buffer: &mut [T]) {
    let size = std::mem::size_of::<T>();
    if size == 0 {
        return;
    }
    let stride = (PAGE_BYTES / size).max(1);
    let mut i = 0;
    while i < buffer.len() {
        let p: *mut T = &mut buffer[i];
        // SAFETY: `p` points to an initialised element of a slice we borrow mutably;
        // volatile, so the compiler cannot drop a write of an unchanged value (it knows
        // a zeroed allocation reads as zero and would otherwise remove the store).
        unsafe { p.write_volatile(p.read_volatile()) };
        i += stride;
    }
    if let Some(last) = buffer.last_mut() {
        let p: *mut T = last;
        // SAFETY: as above, for the last element (its page may follow the last stride).
        unsafe { p.write_volatile(p.read_volatile()) };
    }
}

/// Writes a zero byte into every page of `len` bytes at `ptr` (storage that holds no
/// values yet, such as a ring's free slots).
///
/// # Safety
///
/// `ptr..ptr + len` must be one allocation that the caller may write, holding nothing
/// that a stray zero byte could corrupt (uninitialised slots).
pub unsafe fn touch_uninit(ptr: *mut u8, len: usize) {
    let mut offset = 0;
    while offset < len {
        // SAFETY: `offset < len`, inside the writable allocation the caller vouches for.
        unsafe { ptr.add(offset).write_volatile(0) };
        offset += PAGE_BYTES;
    }
    if len > 0 {
        // SAFETY: `len - 1` is the last byte of the same allocation.
        unsafe { ptr.add(len - 1).write_volatile(0) };
    }
}
