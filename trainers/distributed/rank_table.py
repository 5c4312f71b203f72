"""HCCL rank tables (Ascend), read and written by the launcher (trainers/launch.py)."""
from __future__ import absolute_import, division, print_function

from trainers.distributed.topology import ParallelError


def read_hccn_conf(text):
    """{device_id: device_ip} from /etc/hccn.conf ("address_<device>=<ip>" lines), where an
    Ascend host records the IP of each NPU's integrated NIC."""
    ips = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition('=')
        if sep and key.startswith('address_') and key[len('address_'):].isdigit():
            ips[int(key[len('address_'):])] = value.strip()
    return ips


def rank_table(servers):
    """An HCCL rank table (template version 1.0) for [(server_id, [(device_id, device_ip)])]:
    ranks are numbered server after server, device after device."""
    server_list, rank = [], 0
    for server_id, devices in servers:
        entries = []
        for device_id, device_ip in devices:
            entries.append({'device_id': str(device_id), 'device_ip': str(device_ip),
                            'rank_id': str(rank)})
            rank += 1
        server_list.append({'server_id': str(server_id), 'device': entries})
    return {'status': 'completed', 'version': '1.0', 'server_count': str(len(server_list)),
            'server_list': server_list}


def rank_table_devices(table, server_index=0):
    """[(rank_id, device_id)] of one server of a rank table, and the table's rank count."""
    try:
        servers = table['server_list']
        total = sum(len(s['device']) for s in servers)
        server = servers[server_index]
        devices = [(int(d['rank_id']), int(d['device_id'])) for d in server['device']]
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise ParallelError('rank table has no usable server %d (need server_list[].device[] '
                            'with device_id, device_ip, rank_id): %s' % (server_index, err))
    ranks = sorted(r for s in servers for r in (int(d['rank_id']) for d in s['device']))
    if ranks != list(range(total)):
        raise ParallelError('rank table rank_ids must be 0..%d, each once; got %s'
                            % (total - 1, ranks))
    return devices, total
