//! Where a strip's samples come from, on the audio thread.

use troubadour_dsp::generator::Generator;

use crate::player::FileStream;

/// A strip's running source.
#[derive(Debug)]
pub(crate) enum SourcePlayer {
    /// Device channels: the host's input buffers `first..first + channels`.
    Input { first: usize },
    /// A test signal (mono, copied to every channel).
    Generator(Generator),
    /// A file streamed from disk (mono files feed every channel).
    File(FileStream),
}

impl SourcePlayer {
    /// Fills `bufs[ch][..n]` for every channel; returns the frames of silence a file
    /// source played because its reader was behind.
    #[inline]
    pub(crate) fn render(
        &mut self,
        inputs: &[&[f32]],
        offset: usize,
        bufs: &mut [Box<[f32]>],
        n: usize,
    ) -> u64 {
        match self {
            SourcePlayer::Input { first } => {
                for (ch, buf) in bufs.iter_mut().enumerate() {
                    // The host may give fewer channels or frames than the graph expects:
                    // copy what there is, silence the rest.
                    let src = inputs
                        .get(*first + ch)
                        .map_or(&[][..], |i| i.get(offset..).unwrap_or(&[]));
                    let k = src.len().min(n);
                    buf[..k].copy_from_slice(&src[..k]);
                    buf[k..n].fill(0.0);
                }
                0
            }
            SourcePlayer::Generator(g) => {
                let Some((first, rest)) = bufs.split_first_mut() else {
                    return 0;
                };
                g.render(&mut first[..n]);
                for buf in rest {
                    buf[..n].copy_from_slice(&first[..n]);
                }
                0
            }
            SourcePlayer::File(stream) => stream.render(bufs, n),
        }
    }

    /// Carries the playing position over from the same source in the previous graph.
    /// A file player takes over the old graph's running stream (the strips match only
    /// when their sources are equal) and leaves it its own unused one, which goes back
    /// with the old graph to be dropped on the control side: nothing is freed here.
    pub(crate) fn continue_from(&mut self, old: &mut SourcePlayer) {
        match (self, old) {
            (SourcePlayer::Generator(new), SourcePlayer::Generator(old)) => new.continue_from(old),
            (SourcePlayer::File(new), SourcePlayer::File(old)) => std::mem::swap(new, old),
            _ => {}
        }
    }

    /// Not on the audio thread: waits until a file source has `frames` frames ready or
    /// has ended (offline rendering, which must never underrun).
    pub(crate) fn wait_for(&self, frames: usize) {
        if let SourcePlayer::File(stream) = self {
            stream.wait_for(frames);
        }
    }

    /// The control side's handle on a file source's transport.
    pub(crate) fn player(&self) -> Option<crate::player::Player> {
        match self {
            SourcePlayer::File(stream) => Some(stream.player()),
            _ => None,
        }
    }

    /// Why a file source stopped reading before its end, if it did.
    pub(crate) fn error(&self) -> Option<&str> {
        match self {
            SourcePlayer::File(stream) => stream.error(),
            _ => None,
        }
    }
}
