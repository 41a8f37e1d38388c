//! A blocking PulseAudio control connection (control thread only): load and unload
//! modules, list modules, sinks and playback streams, set defaults, move streams.
//!
//! It speaks the native protocol through the `pulseaudio` crate, the pure-Rust client
//! cpal's PulseAudio host is already built on: no libpulse at build or run time, and no
//! async runtime (the crate's synchronous message functions over a Unix socket).

use std::ffi::CString;
use std::io::{BufReader, Read};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use pulseaudio::protocol::{
    self, Command, CommandReply, ModuleInfoList, ProtocolError, ServerInfo, SinkInfoList,
    SinkInputInfo, SinkInputInfoList, TagStructRead, TagStructReader, TagStructWrite,
    TagStructWriter,
};

/// How long one request may take before the server counts as not answering.
const TIMEOUT: Duration = Duration::from_secs(5);

/// A module as the server lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Its index (what unloading names).
    pub index: u32,
    /// `module-null-sink`, ...
    pub name: String,
    /// Its argument string, as loaded.
    pub argument: String,
}

/// A playback stream (sink input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// Its index.
    pub index: u32,
    /// The sink it plays on.
    pub sink: u32,
    /// `application.name`, if given.
    pub application: Option<String>,
    /// `application.process.binary`, if given.
    pub binary: Option<String>,
}

/// A connection to a PulseAudio server.
pub struct Client {
    sock: BufReader<UnixStream>,
    version: u16,
    seq: u32,
}

/// The reply to `LoadModule`: the new module's index.
#[derive(Debug)]
struct ModuleIndex(u32);

impl TagStructRead for ModuleIndex {
    fn read(ts: &mut TagStructReader<'_>, _: u16) -> Result<Self, ProtocolError> {
        Ok(ModuleIndex(ts.read_u32()?))
    }
}

impl TagStructWrite for ModuleIndex {
    fn write(&self, ts: &mut TagStructWriter<'_>, _: u16) -> Result<(), ProtocolError> {
        ts.write_u32(self.0)
    }
}

impl CommandReply for ModuleIndex {}

/// A property's text (the protocol keeps the terminating NUL).
fn text(bytes: Option<&[u8]>) -> Option<String> {
    let bytes = bytes?;
    let bytes = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    Some(String::from_utf8_lossy(bytes).into_owned())
}

fn cstring(s: &str) -> Result<CString, String> {
    CString::new(s).map_err(|_| format!("\"{s}\" holds a NUL character"))
}

impl Client {
    /// Connects to the server the environment names (`PULSE_SERVER=unix:...`, else
    /// `$XDG_RUNTIME_DIR/pulse/native`), authenticates with the user's cookie if there
    /// is one, and names itself `client`.
    pub fn connect(client: &str) -> Result<Client, String> {
        let path = pulseaudio::socket_path_from_env()
            .ok_or("no PulseAudio socket (PULSE_SERVER or $XDG_RUNTIME_DIR/pulse/native)")?;
        let stream = UnixStream::connect(&path)
            .map_err(|e| format!("cannot connect to {}: {e}", path.display()))?;
        stream
            .set_read_timeout(Some(TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
            .map_err(|e| e.to_string())?;
        let cookie = pulseaudio::cookie_path_from_env()
            .and_then(|p| std::fs::read(p).ok())
            .unwrap_or_default();
        let mut c = Client {
            sock: BufReader::new(stream),
            version: protocol::MAX_VERSION,
            seq: 0,
        };
        let auth: protocol::AuthReply = c.request(&Command::Auth(protocol::AuthParams {
            version: protocol::MAX_VERSION,
            supports_shm: false,
            supports_memfd: false,
            cookie,
        }))?;
        c.version = protocol::MAX_VERSION.min(auth.version);
        let mut props = protocol::Props::new();
        props.set(protocol::Prop::ApplicationName, cstring(client)?);
        let _: protocol::SetClientNameReply = c.request(&Command::SetClientName(props))?;
        Ok(c)
    }

    fn send(&mut self, command: &Command) -> Result<u32, String> {
        self.seq = self.seq.wrapping_add(1);
        protocol::write_command_message(self.sock.get_mut(), self.seq, command, self.version)
            .map_err(|e| format!("PulseAudio: {e}"))?;
        Ok(self.seq)
    }

    /// The next message, whole: a reply's payload is read to its end, so a field the
    /// crate does not parse never leaves bytes in the socket's buffer.
    fn message(&mut self) -> Result<Vec<u8>, String> {
        let desc = protocol::read_descriptor(&mut self.sock).map_err(|e| e.to_string())?;
        let mut payload = vec![0; desc.length as usize];
        self.sock
            .read_exact(&mut payload)
            .map_err(|e| format!("PulseAudio: {e}"))?;
        let mut header = [0u8; protocol::DESCRIPTOR_SIZE];
        protocol::encode_descriptor(&mut header, &desc);
        let mut whole = header.to_vec();
        whole.extend_from_slice(&payload);
        Ok(whole)
    }

    /// Sends `command` and reads its reply, skipping events that come in between.
    fn request<T: CommandReply>(&mut self, command: &Command) -> Result<T, String> {
        let seq = self.send(command)?;
        loop {
            let whole = self.message()?;
            let mut cursor = std::io::Cursor::new(whole);
            match protocol::read_reply_message::<T>(&mut cursor, self.version) {
                Ok((s, reply)) if s == seq => return Ok(reply),
                Ok(_) | Err(ProtocolError::UnexpectedCommand(_)) => continue,
                Err(e) => return Err(format!("PulseAudio: {e}")),
            }
        }
    }

    /// Sends `command` and waits for its empty reply.
    fn ack(&mut self, command: &Command) -> Result<(), String> {
        let seq = self.send(command)?;
        loop {
            let whole = self.message()?;
            let mut cursor = std::io::Cursor::new(whole);
            match protocol::read_ack_message(&mut cursor) {
                Ok(s) if s == seq => return Ok(()),
                Ok(_) | Err(ProtocolError::Invalid(_)) => continue,
                Err(e) => return Err(format!("PulseAudio: {e}")),
            }
        }
    }

    /// Loads `name` with `argument`; returns its index.
    pub fn load_module(&mut self, name: &str, argument: &str) -> Result<u32, String> {
        let params = protocol::LoadModuleParams {
            name: cstring(name)?,
            arguments: Some(cstring(argument)?),
        };
        self.request::<ModuleIndex>(&Command::LoadModule(params))
            .map(|i| i.0)
            .map_err(|e| format!("{name} {argument}: {e}"))
    }

    /// Unloads the module `index`.
    pub fn unload_module(&mut self, index: u32) -> Result<(), String> {
        self.ack(&Command::UnloadModule(index))
    }

    /// Every module loaded.
    pub fn modules(&mut self) -> Result<Vec<Module>, String> {
        let list: ModuleInfoList = self.request(&Command::GetModuleInfoList)?;
        Ok(list
            .into_iter()
            .map(|m| Module {
                index: m.index,
                name: m.name.to_string_lossy().into_owned(),
                argument: m
                    .argument
                    .map(|a| a.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            })
            .collect())
    }

    /// Every sink: (index, name).
    pub fn sinks(&mut self) -> Result<Vec<(u32, String)>, String> {
        let list: SinkInfoList = self.request(&Command::GetSinkInfoList)?;
        Ok(list
            .into_iter()
            .map(|s| (s.index, s.name.to_string_lossy().into_owned()))
            .collect())
    }

    /// The default sink and source, by name.
    pub fn defaults(&mut self) -> Result<(Option<String>, Option<String>), String> {
        let info: ServerInfo = self.request(&Command::GetServerInfo)?;
        let name = |n: Option<CString>| n.map(|n| n.to_string_lossy().into_owned());
        Ok((name(info.default_sink_name), name(info.default_source_name)))
    }

    /// Makes `name` the default sink.
    pub fn set_default_sink(&mut self, name: &str) -> Result<(), String> {
        self.ack(&Command::SetDefaultSink(cstring(name)?))
    }

    /// Makes `name` the default source.
    pub fn set_default_source(&mut self, name: &str) -> Result<(), String> {
        self.ack(&Command::SetDefaultSource(cstring(name)?))
    }

    fn stream(s: SinkInputInfo) -> Stream {
        Stream {
            index: s.index,
            sink: s.sink_index,
            application: text(s.props.get(protocol::Prop::ApplicationName)),
            binary: text(s.props.get(protocol::Prop::ApplicationProcessBinary)),
        }
    }

    /// Every playback stream.
    pub fn streams(&mut self) -> Result<Vec<Stream>, String> {
        let list: SinkInputInfoList = self.request(&Command::GetSinkInputInfoList)?;
        Ok(list.into_iter().map(Self::stream).collect())
    }

    /// Moves the playback stream `index` onto the sink `sink` (by name).
    pub fn move_stream(&mut self, index: u32, sink: &str) -> Result<(), String> {
        self.ack(&Command::MoveSinkInput(protocol::MoveStreamParams {
            index: Some(index),
            device_index: None,
            device_name: Some(cstring(sink)?),
        }))
    }

    /// Asks for playback-stream events; [`next_stream_event`](Self::next_stream_event)
    /// then waits for them.
    pub fn subscribe_streams(&mut self) -> Result<(), String> {
        self.ack(&Command::Subscribe(protocol::SubscriptionMask::SINK_INPUT))
    }

    /// Blocks until a playback stream appears (its index) or changes (None); an error
    /// once the connection is closed (by the server, or by [`closer`](Self::closer)).
    pub fn next_stream_event(&mut self) -> Result<Option<u32>, String> {
        loop {
            let whole = self.message()?;
            let mut cursor = std::io::Cursor::new(whole);
            if let Ok((_, Command::SubscribeEvent(e))) =
                protocol::read_command_message(&mut cursor, self.version)
            {
                return Ok(match e.event_type {
                    protocol::SubscriptionEventType::New => e.index,
                    _ => None,
                });
            }
        }
    }

    /// A handle that ends a blocking [`next_stream_event`](Self::next_stream_event) from
    /// another thread by shutting the socket down.
    pub fn closer(&self) -> Result<UnixStream, String> {
        self.sock.get_ref().try_clone().map_err(|e| e.to_string())
    }

    /// Waits without a time limit (an event connection is quiet for as long as no
    /// stream starts).
    pub fn wait_forever(&mut self) -> Result<(), String> {
        self.sock
            .get_ref()
            .set_read_timeout(None)
            .map_err(|e| e.to_string())
    }
}
