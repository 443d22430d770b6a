//! What `status/deployment.json` says about the machine: its host name and the address clients
//! reach this node at.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The address of a listener bound to `bound`: that address itself, or for a wildcard (`0.0.0.0`,
/// `::`) the first address of the same family on an interface that is up and not loopback (nor
/// IPv6 link-local, which needs a scope to be reached); the loopback address when there is none.
pub fn reachable_ip(bound: IpAddr) -> IpAddr {
    if !bound.is_unspecified() {
        return bound;
    }
    let loopback = match bound {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
    };
    interface_addresses()
        .into_iter()
        .find(|ip| ip.is_ipv4() == bound.is_ipv4() && is_routable_from_elsewhere(ip))
        .unwrap_or(loopback)
}

fn is_routable_from_elsewhere(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_unspecified() && !v4.is_link_local(),
        IpAddr::V6(v6) => !v6.is_loopback() && !v6.is_unspecified() && !v6.is_unicast_link_local(),
    }
}

/// The addresses of the interfaces that are up, in the kernel's order.
fn interface_addresses() -> Vec<IpAddr> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a list we free below with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return Vec::new();
    }
    let mut addresses = Vec::new();
    let mut entry = list;
    while !entry.is_null() {
        // SAFETY: `entry` is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*entry };
        let up = ifa.ifa_flags & libc::IFF_UP as libc::c_uint != 0;
        if up && !ifa.ifa_addr.is_null() {
            // SAFETY: ifa_addr points to a sockaddr whose family says its real type.
            addresses.extend(unsafe { ip_of(ifa.ifa_addr) });
        }
        entry = ifa.ifa_next;
    }
    // SAFETY: `list` came from getifaddrs and is freed once; no reference into it is kept.
    unsafe { libc::freeifaddrs(list) };
    addresses
}

/// # Safety
/// `addr` points to a valid sockaddr of the type its `sa_family` names.
unsafe fn ip_of(addr: *const libc::sockaddr) -> Option<IpAddr> {
    match i32::from((*addr).sa_family) {
        libc::AF_INET => {
            let sin = &*addr.cast::<libc::sockaddr_in>();
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                sin.sin_addr.s_addr,
            ))))
        }
        libc::AF_INET6 => {
            let sin6 = &*addr.cast::<libc::sockaddr_in6>();
            Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}
