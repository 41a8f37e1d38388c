//! Learn: which control the user moved, from the messages of one read.

use troubadour_engine::session::ControlKind;

use super::decode::Message;

/// The control the first of `messages` that a control sends belongs to: a CC (14-bit
/// when the CC 32 above it follows in the same read, as 14-bit faders send them), a
/// note-on or pitch bend. Note-offs and the rest are no control being moved.
pub fn learned(messages: &[Message]) -> Option<ControlKind> {
    let (i, first) = messages
        .iter()
        .enumerate()
        .find(|(_, m)| !matches!(m, Message::NoteOff { .. } | Message::Other))?;
    Some(match *first {
        Message::Cc { channel, cc, .. } => {
            let fine = cc < 32
                && messages[i + 1..].iter().any(|m| {
                    matches!(*m, Message::Cc { channel: c, cc: n, .. } if c == channel && n == cc + 32)
                });
            if fine {
                ControlKind::Cc14 {
                    channel,
                    msb: cc,
                    lsb: cc + 32,
                }
            } else {
                ControlKind::Cc {
                    channel,
                    cc,
                    relative: None,
                }
            }
        }
        Message::NoteOn { channel, note, .. } => ControlKind::Note { channel, note },
        Message::PitchBend { channel, .. } => ControlKind::PitchBend { channel },
        Message::NoteOff { .. } | Message::Other => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_control_moved_is_learned() {
        let cc = |cc, value| Message::Cc {
            channel: 2,
            cc,
            value,
        };
        assert_eq!(
            learned(&[Message::Other, cc(7, 1), cc(8, 1)]),
            Some(ControlKind::Cc {
                channel: 2,
                cc: 7,
                relative: None
            })
        );
        assert_eq!(
            learned(&[cc(1, 64), cc(33, 5)]),
            Some(ControlKind::Cc14 {
                channel: 2,
                msb: 1,
                lsb: 33
            })
        );
        assert_eq!(
            learned(&[
                Message::NoteOff {
                    channel: 0,
                    note: 3
                },
                Message::NoteOn {
                    channel: 0,
                    note: 40,
                    velocity: 9
                }
            ]),
            Some(ControlKind::Note {
                channel: 0,
                note: 40
            })
        );
        assert_eq!(
            learned(&[Message::PitchBend {
                channel: 5,
                value: 3
            }]),
            Some(ControlKind::PitchBend { channel: 5 })
        );
        assert_eq!(learned(&[Message::Other]), None);
    }
}
