//! Where a strip's samples come from, on the audio thread.

use troubadour_dsp::generator::Generator;

use crate::audio_file::AudioData;

/// A strip's running source.
#[derive(Debug)]
pub(crate) enum SourcePlayer {
    /// Device channels: the host's input buffers `first..first + channels`.
    Input { first: usize },
    /// A test signal (mono, copied to every channel).
    Generator(Generator),
    /// A decoded file (mono files feed every channel).
    File {
        data: AudioData,
        looped: bool,
        position: usize,
    },
}

impl SourcePlayer {
    /// Fills `bufs[ch][..n]` for every channel.
    #[inline]
    pub(crate) fn render(
        &mut self,
        inputs: &[&[f32]],
        offset: usize,
        bufs: &mut [Box<[f32]>],
        n: usize,
    ) {
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
            }
            SourcePlayer::Generator(g) => {
                let Some((first, rest)) = bufs.split_first_mut() else {
                    return;
                };
                g.render(&mut first[..n]);
                for buf in rest {
                    buf[..n].copy_from_slice(&first[..n]);
                }
            }
            SourcePlayer::File {
                data,
                looped,
                position,
            } => {
                let len = data.frames();
                let mut done = 0;
                while done < n {
                    if *position >= len {
                        if *looped && len > 0 {
                            *position = 0;
                        } else {
                            for buf in bufs.iter_mut() {
                                buf[done..n].fill(0.0);
                            }
                            return;
                        }
                    }
                    let k = (n - done).min(len - *position);
                    for (ch, buf) in bufs.iter_mut().enumerate() {
                        let src = &data.channels[ch.min(data.channels.len() - 1)];
                        buf[done..done + k].copy_from_slice(&src[*position..*position + k]);
                    }
                    *position += k;
                    done += k;
                }
            }
        }
    }

    /// Carries the playing position over from the same source in the previous graph.
    pub(crate) fn continue_from(&mut self, old: &SourcePlayer) {
        match (self, old) {
            (SourcePlayer::Generator(new), SourcePlayer::Generator(old)) => new.continue_from(old),
            (SourcePlayer::File { position, .. }, SourcePlayer::File { position: old, .. }) => {
                *position = *old;
            }
            _ => {}
        }
    }
}
