//! An engine with device inputs fed noise and outputs to write into, shared by the
//! engine's benchmarks.

use std::hint::black_box;

use troubadour_engine::session::LoadedSession;
use troubadour_engine::{Controller, Engine, EngineOptions, create};

pub struct Rig {
    #[allow(dead_code)] // only some benches drive it
    pub controller: Controller,
    engine: Engine,
    inputs: Vec<Vec<f32>>,
    outputs: Vec<Vec<f32>>,
    pub block: usize,
}

impl Rig {
    /// `session`'s engine, processing `block` frames per call.
    pub fn with(session: LoadedSession, block: usize) -> Self {
        let (controller, engine) = create(&session, &EngineOptions::default()).unwrap();
        let mut rng = troubadour_dsp::rng::Rng::new(1);
        let inputs = (0..engine.input_channels())
            .map(|_| (0..block).map(|_| 0.5 * rng.next_bipolar()).collect())
            .collect();
        let outputs = vec![vec![0.0; block]; engine.output_channels()];
        Rig {
            controller,
            engine,
            inputs,
            outputs,
            block,
        }
    }

    /// One block.
    pub fn block(&mut self) {
        let ins: Vec<&[f32]> = self.inputs.iter().map(|c| c.as_slice()).collect();
        let mut outs: Vec<&mut [f32]> = self.outputs.iter_mut().map(|c| c.as_mut_slice()).collect();
        self.engine.process(black_box(&ins), &mut outs, self.block);
        black_box(&self.outputs);
    }
}
