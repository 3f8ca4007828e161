#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""nvmetcli's save, clear and restore, redone for the rig (Debian does not
package nvmetcli, so a test cannot install it).

  nvmetcli_mirror.py save FILE      the configuration as JSON
  nvmetcli_mirror.py clear          every port, subsystem and host removed
  nvmetcli_mirror.py restore FILE   clear, then the configuration back

What it mirrors of nvmetcli (nvmet/nvme.py):
- only files named <group>_<name> are kept, for the groups nvmetcli knows
  (subsystem "attr"; namespace "device", "ana", "resv"; port "addr",
  "param"; ANA group "ana"; referral "addr"), and only those whose owner
  write bit is set; values are read stripped;
- a namespace's and a port's "enable" state, where the file exists;
- restore order: hosts; each subsystem's namespaces (each namespace's
  groups in that order, names sorted as the saved file has them, then its
  enable), its allowed hosts, then its own attributes; each port's
  attributes, then its subsystem links, ANA groups and referrals;
- an attribute that cannot be written is an error that restore reports
  and skips; it goes on with the rest.
Errors are printed one per line, prefixed "error: ", on stdout.
"""

import json
import os
import stat
import sys

ROOT = '/sys/kernel/config/nvmet'
GROUPS = {
    'subsystem': ['attr'],
    'namespace': ['device', 'ana', 'resv'],
    'port': ['addr', 'param'],
    'ana_group': ['ana'],
    'referral': ['addr'],
}

errors = []


def attrs_of(path, kind):
    """{group: {name: value}} of path's writable grouped attributes."""
    saved = {}
    for group in GROUPS[kind]:
        values = {}
        prefix = group + '_'
        for entry in sorted(os.listdir(path)):
            full = os.path.join(path, entry)
            if not entry.startswith(prefix) or not os.path.isfile(full):
                continue
            if not os.stat(full).st_mode & stat.S_IWUSR:
                continue
            with open(full) as f:
                values[entry[len(prefix):]] = f.read().strip()
        saved[group] = values
    return saved


def enable_of(path):
    try:
        with open(os.path.join(path, 'enable')) as f:
            return int(f.read().strip())
    except FileNotFoundError:
        return None


def subdirs(path):
    return sorted(os.listdir(path)) if os.path.isdir(path) else []


def save():
    config = {'hosts': [], 'subsystems': [], 'ports': []}
    for nqn in subdirs(f'{ROOT}/hosts'):
        config['hosts'].append({'nqn': nqn})
    for nqn in subdirs(f'{ROOT}/subsystems'):
        spath = f'{ROOT}/subsystems/{nqn}'
        subsys = attrs_of(spath, 'subsystem')
        subsys['nqn'] = nqn
        subsys['allowed_hosts'] = subdirs(f'{spath}/allowed_hosts')
        subsys['namespaces'] = []
        for nsid in subdirs(f'{spath}/namespaces'):
            npath = f'{spath}/namespaces/{nsid}'
            ns = attrs_of(npath, 'namespace')
            ns['nsid'] = int(nsid)
            ns['enable'] = enable_of(npath)
            subsys['namespaces'].append(ns)
        config['subsystems'].append(subsys)
    for portid in subdirs(f'{ROOT}/ports'):
        ppath = f'{ROOT}/ports/{portid}'
        port = attrs_of(ppath, 'port')
        port['portid'] = int(portid)
        port['subsystems'] = subdirs(f'{ppath}/subsystems')
        port['ana_groups'] = []
        for grpid in subdirs(f'{ppath}/ana_groups'):
            group = attrs_of(f'{ppath}/ana_groups/{grpid}', 'ana_group')
            group['grpid'] = int(grpid)
            port['ana_groups'].append(group)
        port['referrals'] = []
        for name in subdirs(f'{ppath}/referrals'):
            ref = attrs_of(f'{ppath}/referrals/{name}', 'referral')
            ref['name'] = name
            port['referrals'].append(ref)
        config['ports'].append(port)
    return config


def clear():
    for portid in subdirs(f'{ROOT}/ports'):
        ppath = f'{ROOT}/ports/{portid}'
        for nqn in subdirs(f'{ppath}/subsystems'):
            os.unlink(f'{ppath}/subsystems/{nqn}')
        for grpid in subdirs(f'{ppath}/ana_groups'):
            if grpid != '1':
                os.rmdir(f'{ppath}/ana_groups/{grpid}')
        for name in subdirs(f'{ppath}/referrals'):
            os.rmdir(f'{ppath}/referrals/{name}')
        os.rmdir(ppath)
    for nqn in subdirs(f'{ROOT}/subsystems'):
        spath = f'{ROOT}/subsystems/{nqn}'
        for nsid in subdirs(f'{spath}/namespaces'):
            os.rmdir(f'{spath}/namespaces/{nsid}')
        for host in subdirs(f'{spath}/allowed_hosts'):
            os.unlink(f'{spath}/allowed_hosts/{host}')
        os.rmdir(spath)
    for nqn in subdirs(f'{ROOT}/hosts'):
        os.rmdir(f'{ROOT}/hosts/{nqn}')


def write(path, value):
    try:
        with open(path, 'w') as f:
            f.write(str(value))
    except OSError as e:
        errors.append(f'cannot write {value!r} to {path}: {e.strerror}')


def set_attrs(path, kind, saved):
    for group in GROUPS[kind]:
        for name, value in saved.get(group, {}).items():
            full = f'{path}/{group}_{name}'
            if not os.path.isfile(full):
                errors.append(f'no attribute {full}')
                continue
            write(full, value)
    if saved.get('enable') is not None:
        write(f'{path}/enable', saved['enable'])


def mkdir(path):
    if not os.path.isdir(path):
        os.mkdir(path)


def restore(config):
    clear()
    for host in config.get('hosts', []):
        mkdir(f'{ROOT}/hosts/{host["nqn"]}')
    for subsys in config.get('subsystems', []):
        spath = f'{ROOT}/subsystems/{subsys["nqn"]}'
        mkdir(spath)
        for ns in subsys.get('namespaces', []):
            npath = f'{spath}/namespaces/{ns["nsid"]}'
            mkdir(npath)
            set_attrs(npath, 'namespace', ns)
        for host in subsys.get('allowed_hosts', []):
            os.symlink(f'{ROOT}/hosts/{host}', f'{spath}/allowed_hosts/{host}')
        set_attrs(spath, 'subsystem', subsys)
    for port in config.get('ports', []):
        ppath = f'{ROOT}/ports/{port["portid"]}'
        mkdir(ppath)
        set_attrs(ppath, 'port', port)
        for nqn in port.get('subsystems', []):
            try:
                os.symlink(f'{ROOT}/subsystems/{nqn}', f'{ppath}/subsystems/{nqn}')
            except OSError as e:
                errors.append(f'cannot link {nqn} to port {port["portid"]}: {e.strerror}')
        for group in port.get('ana_groups', []):
            gpath = f'{ppath}/ana_groups/{group["grpid"]}'
            mkdir(gpath)
            set_attrs(gpath, 'ana_group', group)
        for ref in port.get('referrals', []):
            rpath = f'{ppath}/referrals/{ref["name"]}'
            mkdir(rpath)
            set_attrs(rpath, 'referral', ref)


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ''
    if cmd == 'save' and len(sys.argv) == 3:
        with open(sys.argv[2], 'w') as f:
            json.dump(save(), f, sort_keys=True, indent=2)
            f.write('\n')
    elif cmd == 'clear':
        clear()
    elif cmd == 'restore' and len(sys.argv) == 3:
        with open(sys.argv[2]) as f:
            restore(json.load(f))
    else:
        sys.exit(__doc__)
    for e in errors:
        print('error: ' + e)


if __name__ == '__main__':
    main()
