use super::*;

#[test]
fn constant_stays_constant() {
    for (from, to) in [
        (44_100, 48_000),
        (48_000, 44_100),
        (96_000, 48_000),
        (8_000, 48_000),
    ] {
        for q in [Quality::Fast, Quality::High, Quality::Best] {
            let out = resample_interleaved(&vec![0.5f32; 20_000], 1, from, to, q).unwrap();
            let mid = &out[out.len() / 4..out.len() * 3 / 4];
            for &y in mid {
                assert!((y - 0.5).abs() < 1e-6, "{from}->{to} {q:?}: {y}");
            }
        }
    }
}

#[test]
fn bypass_copies() {
    let mut rs = Resampler::<f32>::new(2, 48_000, 48_000, Quality::High).unwrap();
    assert!(rs.is_bypass());
    let input: Vec<f32> = (0..64).map(|i| i as f32).collect();
    let mut out = vec![0.0; 64];
    let done = rs.process(&input, &mut out);
    assert_eq!(done.output_frames, 32);
    assert_eq!(out, input);
}

#[test]
fn output_length_rounds() {
    assert_eq!(output_length(44_100, 44_100, 48_000), 48_000);
    assert_eq!(output_length(1, 44_100, 48_000), 1);
    assert_eq!(output_length(3, 48_000, 8_000), 1);
}

#[test]
fn rejects_bad_configurations() {
    assert_eq!(
        Resampler::<f32>::new(2, 0, 48_000, Quality::High).unwrap_err(),
        ResampleError::Rate(0)
    );
    assert!(matches!(
        Resampler::<f32>::new(2, 8_000, 192_000, Quality::High),
        Err(ResampleError::Ratio { .. })
    ));
    assert_eq!(
        Resampler::<f32>::new(0, 48_000, 44_100, Quality::High).unwrap_err(),
        ResampleError::Channels(0)
    );
}

#[test]
fn output_time_tracks_the_ratio() {
    let mut rs = Resampler::<f32>::new(1, 44_100, 48_000, Quality::High).unwrap();
    let mut out = vec![0.0; 4096];
    rs.process(&vec![0.0; 2000], &mut out);
    let n = rs.output_frames_total() as f64;
    assert!((rs.next_output_time() - n * 44_100.0 / 48_000.0).abs() < 1e-9);
}
