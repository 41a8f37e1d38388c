//! From the session's processor settings to the DSP crate's parameter types.

use troubadour_dsp::biquad::{FilterKind, FilterParams};
use troubadour_dsp::compressor::{CompressorParams, Detector};
use troubadour_dsp::gate::GateParams;
use troubadour_dsp::limiter::LimiterParams;

use crate::session::{self, DetectorKind, EqKind};

/// An EQ band's filter.
pub fn filter_params(b: &session::EqBand) -> FilterParams {
    let kind = match b.kind {
        EqKind::Peak => FilterKind::Peak,
        EqKind::Lowshelf => FilterKind::LowShelf,
        EqKind::Highshelf => FilterKind::HighShelf,
        EqKind::Lowpass => FilterKind::LowPass,
        EqKind::Highpass => FilterKind::HighPass,
        EqKind::Bandpass => FilterKind::BandPass,
        EqKind::Notch => FilterKind::Notch,
        EqKind::Allpass => FilterKind::AllPass,
    };
    // A band switched off is a 0 dB peak: it passes the signal unchanged, and turning
    // it on or off glides like any gain change.
    if !b.on {
        return FilterParams {
            kind: FilterKind::Peak,
            freq_hz: b.freq,
            q: b.q,
            gain_db: 0.0,
            slope: None,
        };
    }
    FilterParams {
        kind,
        freq_hz: b.freq,
        q: b.q,
        gain_db: b.gain_db,
        slope: b.slope,
    }
}

/// A compressor's settings.
pub fn compressor_params(c: &session::Compressor) -> CompressorParams {
    CompressorParams {
        threshold_db: c.threshold_db,
        ratio: c.ratio,
        knee_db: c.knee_db,
        attack_ms: c.attack_ms,
        release_ms: c.release_ms,
        makeup_db: c.makeup_db,
        auto_makeup: c.auto_makeup,
        detector: match c.detector {
            DetectorKind::Rms => Detector::Rms {
                window_ms: c.rms_ms,
            },
            DetectorKind::Peak => Detector::Peak,
        },
    }
}

/// A gate's settings.
pub fn gate_params(g: &session::Gate) -> GateParams {
    GateParams {
        open_db: g.open_db,
        close_db: g.close_db,
        attack_ms: g.attack_ms,
        hold_ms: g.hold_ms,
        release_ms: g.release_ms,
        range_db: g.range_db,
    }
}

/// A limiter's settings.
pub fn limiter_params(l: &session::Limiter) -> LimiterParams {
    LimiterParams {
        ceiling_db: l.ceiling_db,
        lookahead_ms: l.lookahead_ms,
        release_ms: l.release_ms,
    }
}
