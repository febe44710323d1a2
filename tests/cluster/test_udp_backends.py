"""Every real backend can run the store's peers over UDP: datagrams carry no TLS, so a
cluster asked for ``transport=udp`` is made without it (clients included) instead of
failing the store's check that refuses UDP together with TLS."""

from cluster.docker_backend import DockerCluster
from cluster.local import LocalCluster
from cluster.ssh import SSHCluster, SSHHost


def test_docker_local_and_ssh_make_a_udp_cluster_without_tls_and_a_tcp_one_with_it():
    hosts = [SSHHost(host=f"10.0.0.{i}") for i in (1, 2, 3)]
    made = [
        lambda **kw: DockerCluster("paxlab-udp-test-cfg", 3, **kw),
        lambda **kw: LocalCluster("paxlab-udp-test-cfg", 3, faketime=False, **kw),
        lambda **kw: SSHCluster("paxlab-udp-test-cfg", hosts=hosts, **kw),
    ]
    for make in made:
        udp, tcp = make(transport="udp"), make()
        try:
            assert udp.config.transport == "udp" and not udp.config.tls.enabled
            assert tcp.config.transport == "tcp" and tcp.config.tls.enabled
        finally:
            for c in (udp, tcp):
                if isinstance(c, LocalCluster):  # it made a run directory; the others nothing
                    c.teardown()
