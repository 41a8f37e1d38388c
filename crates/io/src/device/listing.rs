//! What cpal's hosts have: devices listed for `troubadour devices`, found by the name or
//! id a session gives, and checked for presence (a device that went away, or came back).

use cpal::traits::{DeviceTrait, HostTrait};

/// One device as `troubadour devices` lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    /// The host (PulseAudio, ALSA, ...).
    pub host: String,
    /// The id a session names the device by.
    pub id: String,
    /// A readable name.
    pub name: String,
    /// Most input channels (0: no input).
    pub inputs: u16,
    /// Most output channels (0: no output).
    pub outputs: u16,
    /// Lowest and highest supported rates over every configuration.
    pub rates: Option<(u32, u32)>,
    /// The default configuration's rate.
    pub default_rate: Option<u32>,
    /// The host's default input device.
    pub default_input: bool,
    /// The host's default output device.
    pub default_output: bool,
}

/// Every host cpal has here and each one's devices (a host that fails to open is
/// listed with no devices and its error).
pub fn list_devices() -> Vec<(String, Result<Vec<DeviceInfo>, String>)> {
    cpal::available_hosts()
        .into_iter()
        .map(|id| {
            let name = id.name().to_string();
            let devices = cpal::host_from_id(id)
                .map_err(|e| e.to_string())
                .and_then(|host| describe_host(&host, &name));
            (name, devices)
        })
        .collect()
}

fn describe_host(host: &cpal::Host, host_name: &str) -> Result<Vec<DeviceInfo>, String> {
    let default_in = host.default_input_device().and_then(|d| id_of(&d));
    let default_out = host.default_output_device().and_then(|d| id_of(&d));
    let devices = host.devices().map_err(|e| e.to_string())?;
    Ok(devices
        .map(|d| {
            let id = id_of(&d).unwrap_or_default();
            let name = name_of(&d);
            let mut rates: Option<(u32, u32)> = None;
            // Most channels over a direction's configurations, widening `rates` with each.
            let mut scan = |configs: Result<Vec<cpal::SupportedStreamConfigRange>, _>| {
                configs.map_or(0, |list| {
                    list.iter()
                        .map(|r| {
                            let (lo, hi) = (r.min_sample_rate(), r.max_sample_rate());
                            rates = Some(rates.map_or((lo, hi), |(a, b)| (a.min(lo), b.max(hi))));
                            r.channels()
                        })
                        .max()
                        .unwrap_or(0)
                })
            };
            let inputs = scan(d.supported_input_configs().map(Iterator::collect));
            let outputs = scan(d.supported_output_configs().map(Iterator::collect));
            let default_rate = d
                .default_output_config()
                .or_else(|_| d.default_input_config())
                .map(|c| c.sample_rate())
                .ok();
            DeviceInfo {
                host: host_name.to_string(),
                default_input: default_in.as_deref() == Some(id.as_str()),
                default_output: default_out.as_deref() == Some(id.as_str()),
                id,
                name,
                inputs,
                outputs,
                rates,
                default_rate,
            }
        })
        .collect())
}

/// The host `auto` and `--backend cpal` use: cpal's default (PulseAudio when a server
/// answers, else ALSA, on Linux), and its default output device's name if it has one.
pub fn default_output() -> Option<(String, String)> {
    let host = cpal::default_host();
    let device = host.default_output_device()?;
    let name = name_of(&device);
    Some((host.id().name().to_string(), name))
}

/// The device among `devices` that `spec` names: its id, or its name, exactly; else the
/// one device whose id or name contains it.
pub(crate) fn find(
    devices: impl Iterator<Item = cpal::Device>,
    spec: &str,
) -> Option<cpal::Device> {
    let devices: Vec<cpal::Device> = devices.collect();
    let name = |d: &cpal::Device| d.description().map(|x| x.name().to_string()).ok();
    if let Some(d) = devices
        .iter()
        .find(|d| id_of(d).as_deref() == Some(spec) || name(d).as_deref() == Some(spec))
    {
        return Some(d.clone());
    }
    let mut partial = devices.iter().filter(|d| {
        name(d).is_some_and(|n| n.contains(spec)) || id_of(d).is_some_and(|n| n.contains(spec))
    });
    match (partial.next(), partial.next()) {
        (Some(d), None) => Some(d.clone()),
        _ => None,
    }
}

/// Whether cpal's default host lists an output device whose id (or name) is exactly
/// `id`: a device that went away is back (a partial match could be another device).
pub fn output_listed(id: &str) -> bool {
    listed(cpal::default_host().output_devices()).is_some_and(|list| {
        list.iter()
            .any(|(i, n)| i.as_deref() == Some(id) || n == id)
    })
}

/// The output device `spec` names (see [`find`]).
pub(crate) fn find_output(host: &cpal::Host, spec: &str) -> Option<cpal::Device> {
    find(host.output_devices().ok()?, spec)
}

/// The input device `spec` names (see [`find`]).
pub(crate) fn find_input(host: &cpal::Host, spec: &str) -> Option<cpal::Device> {
    find(host.input_devices().ok()?, spec)
}

/// The id a session names a device by.
pub(crate) fn id_of(device: &cpal::Device) -> Option<String> {
    device.id().map(|i| i.id().to_string()).ok()
}

/// A device's readable name (its description, else what cpal prints for it).
pub(crate) fn name_of(device: &cpal::Device) -> String {
    device
        .description()
        .map(|d| d.name().to_string())
        .unwrap_or_else(|_| device.to_string())
}

/// (id, name) of every device of a listing; `None` if the host would not list.
pub(crate) fn listed<I: Iterator<Item = cpal::Device>, E>(
    devices: Result<I, E>,
) -> Option<Vec<(Option<String>, String)>> {
    devices
        .ok()
        .map(|d| d.map(|d| (id_of(&d), name_of(&d))).collect())
}

/// Whether `list` holds the device `spec` names, judged as [`find`] opens one: its id
/// or name exactly, else the one device whose id or name contains it.
pub(crate) fn named_in(list: &[(Option<String>, String)], spec: &str) -> bool {
    if list
        .iter()
        .any(|(id, name)| id.as_deref() == Some(spec) || name == spec)
    {
        return true;
    }
    list.iter()
        .filter(|(id, name)| name.contains(spec) || id.as_deref().is_some_and(|i| i.contains(spec)))
        .count()
        == 1
}

/// Whether the device with `id` (or, without one, `name`) is in `list`.
pub(crate) fn present(list: &[(Option<String>, String)], id: Option<&str>, name: &str) -> bool {
    list.iter().any(|(i, n)| match id {
        Some(id) => i.as_deref() == Some(id),
        None => n == name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_names_a_device_as_find_would_open_it() {
        let list = vec![
            (Some("alsa:hw:1".to_string()), "USB Audio CODEC".to_string()),
            (
                Some("alsa:hw:2".to_string()),
                "USB Audio Interface".to_string(),
            ),
            (None, "Speakers".to_string()),
        ];
        assert!(named_in(&list, "alsa:hw:1"));
        assert!(named_in(&list, "Speakers"));
        assert!(named_in(&list, "CODEC"));
        assert!(named_in(&list, "hw:2"));
        // Two devices contain it: it names neither.
        assert!(!named_in(&list, "USB Audio"));
        assert!(!named_in(&list, "Headphones"));
    }
}
