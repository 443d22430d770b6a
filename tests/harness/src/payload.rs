//! Artemis request bodies as the Java client builds them, the endpoint paths, and the body
//! encodings (gzip, chunked) the HTTP tests send.

use std::io::Write;

use crate::Value;

/// The region and zone the Java client tests use; most tests start the server with them.
pub const REGION: &str = "SHA";
pub const ZONE: &str = "SHAJQ";
/// `--region SHA --zone SHAJQ`.
pub const SHA_ARGS: &[&str] = &["--region", REGION, "--zone", ZONE];

pub const REGISTER: &str = "/api/registry/register.json";
pub const HEARTBEAT: &str = "/api/registry/heartbeat.json";
pub const UNREGISTER: &str = "/api/registry/unregister.json";
pub const LOOKUP: &str = "/api/discovery/lookup.json";
pub const SERVICE: &str = "/api/discovery/service.json";
pub const SERVICES: &str = "/api/discovery/services.json";

/// The 13 properties of a serialized Instance, alphabetical.
pub const INSTANCE_KEYS: [&str; 13] = [
    "groupId",
    "healthCheckUrl",
    "instanceId",
    "ip",
    "machineName",
    "metadata",
    "port",
    "protocol",
    "regionId",
    "serviceId",
    "status",
    "url",
    "zoneId",
];

/// A Java-client-style instance.
#[derive(Clone, Debug)]
pub struct Inst {
    pub region_id: Option<String>,
    pub zone_id: Option<String>,
    pub group_id: Option<String>,
    pub service_id: Option<String>,
    pub instance_id: Option<String>,
    pub machine_name: Option<String>,
    pub ip: Option<String>,
    pub port: i64,
    pub protocol: Option<String>,
    pub url: Option<String>,
    pub health_check_url: Option<String>,
    pub status: Option<String>,
    pub metadata: Option<Vec<(String, String)>>,
}

impl Inst {
    /// Region SHA, zone SHAJQ, ip 10.0.0.1, port 8080, url/healthCheckUrl derived, status "up",
    /// metadata `{"owner":"it"}`.
    pub fn new(service_id: &str, instance_id: &str) -> Inst {
        let ip = "10.0.0.1";
        Inst {
            region_id: Some(REGION.into()),
            zone_id: Some(ZONE.into()),
            group_id: None,
            service_id: Some(service_id.into()),
            instance_id: Some(instance_id.into()),
            machine_name: Some("host1".into()),
            ip: Some(ip.into()),
            port: 8080,
            protocol: Some("http".into()),
            url: Some(format!("http://{ip}:8080/{service_id}")),
            health_check_url: Some(format!("http://{ip}:8080/health")),
            status: Some("up".into()),
            metadata: Some(vec![("owner".into(), "it".into())]),
        }
    }

    pub fn region(mut self, r: &str) -> Inst {
        self.region_id = Some(r.into());
        self
    }
    pub fn zone(mut self, z: &str) -> Inst {
        self.zone_id = Some(z.into());
        self
    }
    pub fn group(mut self, g: &str) -> Inst {
        self.group_id = Some(g.into());
        self
    }
    pub fn port(mut self, p: i64) -> Inst {
        self.port = p;
        self
    }
    pub fn ip(mut self, ip: &str) -> Inst {
        self.ip = Some(ip.into());
        self
    }
    pub fn url(mut self, u: Option<&str>) -> Inst {
        self.url = u.map(Into::into);
        self
    }
    pub fn metadata(mut self, kv: &[(&str, &str)]) -> Inst {
        self.metadata = Some(
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        );
        self
    }

    pub fn value(&self) -> Value {
        let metadata: Value = match &self.metadata {
            None => Value::new(),
            Some(kv) => {
                let mut o = sonic_rs::Object::new();
                for (k, v) in kv {
                    o.insert(k, v.as_str());
                }
                o.into_value()
            }
        };
        sonic_rs::json!({
            "groupId": self.group_id,
            "healthCheckUrl": self.health_check_url,
            "instanceId": self.instance_id,
            "ip": self.ip,
            "machineName": self.machine_name,
            "metadata": metadata,
            "port": self.port,
            "protocol": self.protocol,
            "regionId": self.region_id,
            "serviceId": self.service_id,
            "status": self.status,
            "url": self.url,
            "zoneId": self.zone_id,
        })
    }

    pub fn json(&self) -> String {
        sonic_rs::to_string(&self.value()).unwrap()
    }

    /// Java `Instance.toString()`: lower-case `region/zone/service[/group]/instance`.
    pub fn key_string(&self) -> String {
        let s = |o: &Option<String>| o.clone().unwrap_or_else(|| "null".into());
        let mut out = format!(
            "{}/{}/{}",
            s(&self.region_id),
            s(&self.zone_id),
            s(&self.service_id)
        );
        if let Some(g) = self.group_id.as_deref().filter(|g| !g.trim().is_empty()) {
            out.push('/');
            out.push_str(g);
        }
        out.push('/');
        out.push_str(&s(&self.instance_id));
        out.to_lowercase()
    }
}

/// `{"instances":[...]}` for register / heartbeat / unregister.
pub fn instances_body(insts: &[Inst]) -> String {
    let parts: Vec<String> = insts.iter().map(Inst::json).collect();
    format!("{{\"instances\":[{}]}}", parts.join(","))
}

/// A LookupRequest from the client's region/zone (SHA/SHAJQ) for `service_ids`.
pub fn lookup_body(service_ids: &[&str]) -> String {
    lookup_body_from(REGION, ZONE, service_ids)
}

pub fn lookup_body_from(region: &str, zone: &str, service_ids: &[&str]) -> String {
    let configs: Vec<Value> = service_ids
        .iter()
        .map(|s| {
            sonic_rs::json!({"serviceId": s, "regionId": region, "zoneId": zone, "discoveryData": null})
        })
        .collect();
    sonic_rs::to_string(&sonic_rs::json!({
        "discoveryConfigs": configs,
        "regionId": region,
        "zoneId": zone,
    }))
    .unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    use flate2::write::GzEncoder;
    use flate2::Compression;
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Encodes `body` as chunked transfer coding, split into pieces of the given sizes (the rest
/// goes in a last chunk).
pub fn chunked(body: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = body;
    for &s in sizes {
        if rest.is_empty() {
            break;
        }
        let n = s.min(rest.len());
        out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    if !rest.is_empty() {
        out.extend_from_slice(format!("{:x}\r\n", rest.len()).as_bytes());
        out.extend_from_slice(rest);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}
