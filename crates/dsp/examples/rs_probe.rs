// Temporary probe: streams the async resampler for a while, for perf.
use troubadour_dsp::resample::{Quality, Resampler};
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let from: u32 = a[1].parse().unwrap();
    let to: u32 = a[2].parse().unwrap();
    let ch: usize = a[3].parse().unwrap();
    let secs: usize = a.get(4).map_or(20, |s| s.parse().unwrap());
    let mut rs = if std::env::var_os("FIXED").is_some() {
        Resampler::<f32>::new(ch, from, to, Quality::High).unwrap()
    } else {
        Resampler::<f32>::new_async(ch, from, to, Quality::High).unwrap()
    };
    eprintln!("taps {}", rs.taps());
    let frames = if std::env::var_os("SMALL").is_some() {
        256 * 4
    } else {
        from as usize
    };
    let input: Vec<f32> = (0..frames * ch)
        .map(|i| ((i / ch) as f32 * 0.01).sin() * 0.4)
        .collect();
    let chunk = 256;
    let mut out = vec![0.0f32; (chunk * 3 + 4096) * ch];
    let mut sink = 0.0;
    let t0 = std::time::Instant::now();
    let loops = secs * from as usize / frames;
    for _ in 0..loops {
        for piece in input.chunks_exact(chunk * ch) {
            let d = rs.process(piece, &mut out);
            sink += out[d.output_frames * ch / 2];
        }
    }
    let dt = t0.elapsed().as_secs_f64();
    println!("{}x real time ({sink})", secs as f64 / dt);
}
