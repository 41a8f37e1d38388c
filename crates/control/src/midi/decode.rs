//! A MIDI byte-stream decoder: channel messages with running status, real-time bytes
//! (clock, start, stop, active sensing) anywhere, even inside a message, SysEx skipped
//! whole, system common messages consumed, and a message cut short by a new status
//! byte dropped. It never panics and never allocates.
//!
//! ```
//! use troubadour_control::midi::{Decoder, Message};
//!
//! let mut d = Decoder::default();
//! // CC 7 = 100 on channel 1, then 50 by running status, a clock tick in between.
//! let out: Vec<Message> = [0xB0, 7, 100, 0xF8, 7, 50].iter().filter_map(|b| d.push(*b)).collect();
//! assert_eq!(out, [
//!     Message::Cc { channel: 0, cc: 7, value: 100 },
//!     Message::Cc { channel: 0, cc: 7, value: 50 },
//! ]);
//! ```

/// A channel message (the ones a control surface sends). Channels are 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    /// A key or button pressed (velocity above 0).
    NoteOn {
        /// 0..=15.
        channel: u8,
        /// 0..=127.
        note: u8,
        /// 1..=127.
        velocity: u8,
    },
    /// A key or button released (also a note-on of velocity 0).
    NoteOff {
        /// 0..=15.
        channel: u8,
        /// 0..=127.
        note: u8,
    },
    /// A control change.
    Cc {
        /// 0..=15.
        channel: u8,
        /// 0..=127.
        cc: u8,
        /// 0..=127.
        value: u8,
    },
    /// Pitch bend, 14 bits (8192 is the centre).
    PitchBend {
        /// 0..=15.
        channel: u8,
        /// 0..=16383.
        value: u16,
    },
    /// Any other complete message (program change, aftertouch, system common): no
    /// mapping uses it.
    Other,
}

/// The decoder's state between bytes: feed it every byte of the stream in order.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    /// The status byte data bytes belong to (running status for channel messages).
    status: Option<u8>,
    data: [u8; 2],
    len: usize,
    in_sysex: bool,
}

/// Data bytes a status byte takes.
fn data_len(status: u8) -> usize {
    match status {
        0xC0..=0xDF => 1,
        0x80..=0xEF => 2,
        0xF1 | 0xF3 => 1,
        0xF2 => 2,
        _ => 0,
    }
}

impl Decoder {
    /// Takes one byte; returns the message it completes, if any.
    pub fn push(&mut self, byte: u8) -> Option<Message> {
        match byte {
            // Real-time bytes may come between any two bytes and change nothing.
            0xF8..=0xFF => None,
            0xF0 => {
                self.in_sysex = true;
                self.status = None;
                self.len = 0;
                None
            }
            0xF7 => {
                self.in_sysex = false;
                None
            }
            0x80..=0xF6 => {
                // A status byte ends a SysEx (whose end byte went missing) and cuts
                // short a message in progress; system common cancels running status.
                self.in_sysex = false;
                self.len = 0;
                self.status = Some(byte);
                if data_len(byte) == 0 {
                    self.status = None;
                    return Some(Message::Other);
                }
                None
            }
            data => {
                if self.in_sysex {
                    return None;
                }
                let status = self.status?;
                self.data[self.len] = data;
                self.len += 1;
                if self.len < data_len(status) {
                    return None;
                }
                self.len = 0;
                if status >= 0xF0 {
                    self.status = None;
                }
                Some(message(status, self.data))
            }
        }
    }

    /// Forgets a message in progress (the stream was cut, e.g. the port reconnected).
    pub fn reset(&mut self) {
        *self = Decoder::default();
    }
}

fn message(status: u8, [a, b]: [u8; 2]) -> Message {
    let channel = status & 0x0f;
    match status & 0xf0 {
        0x90 if b > 0 => Message::NoteOn {
            channel,
            note: a,
            velocity: b,
        },
        0x80 | 0x90 => Message::NoteOff { channel, note: a },
        0xB0 => Message::Cc {
            channel,
            cc: a,
            value: b,
        },
        0xE0 => Message::PitchBend {
            channel,
            value: u16::from(a) | u16::from(b) << 7,
        },
        _ => Message::Other,
    }
}

impl Message {
    /// The bytes that send it (`Other` sends nothing).
    pub fn bytes(&self) -> Option<[u8; 3]> {
        Some(match *self {
            Message::NoteOn {
                channel,
                note,
                velocity,
            } => [0x90 | channel, note, velocity],
            Message::NoteOff { channel, note } => [0x80 | channel, note, 0],
            Message::Cc { channel, cc, value } => [0xB0 | channel, cc, value],
            Message::PitchBend { channel, value } => [
                0xE0 | channel,
                (value & 0x7f) as u8,
                (value >> 7 & 0x7f) as u8,
            ],
            Message::Other => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> Vec<Message> {
        let mut d = Decoder::default();
        bytes.iter().filter_map(|b| d.push(*b)).collect()
    }

    const fn cc(cc: u8, value: u8) -> Message {
        Message::Cc {
            channel: 0,
            cc,
            value,
        }
    }

    #[test]
    fn running_status_carries_on_until_another_status() {
        assert_eq!(
            decode(&[0xB0, 7, 1, 7, 2, 8, 3, 0x91, 60, 100, 60, 0]),
            [
                cc(7, 1),
                cc(7, 2),
                cc(8, 3),
                Message::NoteOn {
                    channel: 1,
                    note: 60,
                    velocity: 100
                },
                Message::NoteOff {
                    channel: 1,
                    note: 60
                },
            ]
        );
    }

    #[test]
    fn real_time_bytes_inside_a_message_change_nothing() {
        assert_eq!(
            decode(&[0xB0, 0xF8, 7, 0xFE, 100, 0xFA, 7, 0xFC, 101]),
            [cc(7, 100), cc(7, 101)]
        );
    }

    #[test]
    fn sysex_in_the_middle_is_skipped_and_ends_running_status() {
        // Data bytes after the SysEx have no status: they are dropped until one comes.
        assert_eq!(
            decode(&[
                0xB0, 7, 1, 0xF0, 0x7E, 7, 2, 0xF8, 0x01, 0xF7, 7, 3, 0xB0, 7, 4
            ]),
            [cc(7, 1), cc(7, 4)]
        );
        // A SysEx whose end byte is lost ends at the next status byte.
        assert_eq!(decode(&[0xF0, 1, 2, 3, 0xB0, 7, 9]), [cc(7, 9)]);
    }

    #[test]
    fn a_truncated_message_is_dropped() {
        assert_eq!(decode(&[0xB0, 7, 0xB0, 8, 5]), [cc(8, 5)]);
        assert_eq!(decode(&[0xB0, 7]), []);
        assert_eq!(
            decode(&[7, 100, 0xB0, 1, 2]),
            [cc(1, 2)],
            "stray data bytes"
        );
    }

    #[test]
    fn system_common_is_consumed_and_cancels_running_status() {
        assert_eq!(
            decode(&[0xB0, 7, 1, 0xF2, 5, 6, 7, 2, 0xF6, 0xC0, 3, 4]),
            [
                cc(7, 1),
                Message::Other,
                Message::Other,
                Message::Other,
                Message::Other
            ]
        );
    }

    #[test]
    fn pitch_bend_is_fourteen_bits_and_messages_encode_back() {
        let m = decode(&[0xE3, 0x7F, 0x7F, 0xE3, 0, 0x40]);
        assert_eq!(
            m,
            [
                Message::PitchBend {
                    channel: 3,
                    value: 16383
                },
                Message::PitchBend {
                    channel: 3,
                    value: 8192
                }
            ]
        );
        for msg in m.into_iter().chain([cc(1, 2)]) {
            assert_eq!(decode(&msg.bytes().unwrap()), [msg]);
        }
    }

    proptest::proptest! {
        #[test]
        fn no_byte_sequence_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let mut d = Decoder::default();
            for b in bytes {
                if let Some(m) = d.push(b)
                    && let Some(encoded) = m.bytes()
                {
                    proptest::prop_assert!(encoded.iter().skip(1).all(|b| *b < 0x80));
                }
            }
        }

        #[test]
        fn real_time_bytes_anywhere_leave_the_messages_alone(
            values in proptest::collection::vec(0u8..128, 1..40),
            at in proptest::collection::vec((0usize..200, 0xF8u8..=0xFF), 0..20),
        ) {
            let mut clean = vec![0xB0u8];
            for v in &values {
                clean.extend([7, *v]);
            }
            let mut noisy = clean.clone();
            for (i, rt) in at {
                let i = i % (noisy.len() + 1);
                noisy.insert(i, rt);
            }
            proptest::prop_assert_eq!(decode(&noisy), decode(&clean));
        }
    }
}
