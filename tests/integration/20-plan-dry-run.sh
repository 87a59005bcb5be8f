#!/usr/bin/env bash
# 20-plan-dry-run — `imgbuild build --dry-run` prints the validated plan as
# JSON: the aliyun2 release plan is checked field by field, the demo plan
# loads, options change what they should, and every realdata kickstart gives
# a plan (exit 0).
set -eu
"$IMGBUILD" build --help | grep -q -- '--dry-run'
"$IMGBUILD" build --dry-run --release 20240101 > aliyun2.json
python3 - aliyun2.json <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
def eq(a, b, what):
    assert a == b, "%s: %r != %r" % (what, a, b)
eq(p["profile"], "aliyun2", "profile")
eq(p["image_name"], "aliyun_2_1903_64_20G_alibase_20240101", "image_name")
assert 'image_name="aliyun_2_1903_64_20G_alibase_20240101"' in p["image_id"]
eq(p["disk_size_bytes"], 20 << 30, "disk size")
eq(p["releasever"], "2.1903", "releasever")
eq(p["rpmdb_format"], "bdb", "rpmdb")
eq(p["cloudinit_datasources"], ["AliYun", "NoCloud"], "datasources")
eq(sorted(p["formats"]), ["qcow2", "vhd"], "formats")
ids = [r["id"] for r in p["repos"]]
eq(ids, ["base", "updates", "extras", "plus", "cloud-kernel"], "repos")
for r in p["repos"]:
    assert r["gpgcheck"] and r["gpgkeys"] == ["https://mirrors.aliyun.com/alinux/RPM-GPG-KEY-ALIYUN"], r
    assert r["baseurls"][0].startswith("https://mirrors.aliyun.com/alinux/2.1903/"), r
pk = p["packages"]
eq([g["id"] for g in pk["groups"]], ["core"], "groups")
for n in ("kernel", "grub2", "dracut", "cloud-init", "cloud-utils-growpart", "kexec-tools"):
    assert n in pk["names"], n
assert "NetworkManager*" in pk["excludes"] and "qemu-guest-agent" in pk["excludes"]
for n in ("kernel", "grub2", "grub2-tools", "dracut"):
    assert n in pk["implicit"], n
parts = p["partitions"]
eq(len(parts), 1, "one partition")
eq((parts[0]["mountpoint"], parts[0]["fstype"], parts[0]["start_mib"], parts[0]["final_size_mib"]),
   ("/", "ext4", 1, 20479), "root partition")
eq(p["bootloader"]["location"], "mbr", "bootloader")
s = p["system"]
eq((s["selinux"], s["firewall_enabled"], s["rootpw_lock"], s["network_bootproto"]),
   ("disabled", False, True, "dhcp"), "system")
for svc in ("network", "sshd", "kdump"):
    assert svc in s["services_enabled"], svc
t = p["tuning"]
for tok in ("crashkernel=0M-2G:0M,2G-8G:192M,8G-:256M", "cryptomgr.notests", "cgroup.memory=nokmem",
            "rcupdate.rcu_cpu_stall_timeout=300", "console=ttyS0,115200n8"):
    assert tok in t["cmdline"], tok
assert t["kdump"] and t["sysctl_files"][0].endswith("kernel-config/aliyun2/sysctl.d/50-aliyun.conf")
eq(t["initramfs_drivers"], ["virtio_blk", "virtio_net", "virtio_pci", "virtio_scsi", "virtio_console", "ext4"], "drivers")
sysctl = open(t["sysctl_files"][0]).read()
for kv in ("kernel.hung_task_timeout_secs = 240", "kernel.panic_on_oops = 1", "kernel.watchdog_thresh = 50",
           "kernel.hardlockup_panic = 1"):
    assert kv in sysctl, kv
assert p["overlays"][0]["dir"].endswith("overlays/aliyun2")
assert len(p["posts"]) == 1 and p["posts"][0]["erroronfail"]
print("aliyun2 plan ok")
PY
# options reach the plan
"$IMGBUILD" build -n -r 20240229 --disk-size 40G --mirror http://127.0.0.1:8080/pub --set psi=on \
        --set tcp_tw_timeout=30 --set kdump=off --format raw --disable-repo plus > opt.json
python3 - opt.json <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert p["image_name"] == "aliyun_2_1903_64_40G_alibase_20240229", p["image_name"]
assert p["repos"][0]["baseurls"] == ["http://127.0.0.1:8080/pub/alinux/2.1903/os/x86_64/"], p["repos"][0]
assert not [r for r in p["repos"] if r["id"] == "plus"][0]["enabled"]
t = p["tuning"]
assert "psi=1" in t["cmdline"] and "psi_v1=1" in t["cmdline"] and t["tcp_tw_timeout"] == 30
assert not t["kdump"] and not any(c.startswith("crashkernel=") for c in t["cmdline"])
assert p["formats"] == ["raw"]
print("options ok")
PY
# the demo profile
"$IMGBUILD" build -n --profile demo -r 20240101 > demo.json
python3 -c 'import json,sys; p=json.load(open("demo.json")); assert p["image_name"]=="imgbuild_demo_20240101" and [r["id"] for r in p["repos"]]==["os","updates","kernel"], p["image_name"]; print("demo plan ok")'
# every realdata kickstart gives a plan
rd=${REALDATA:-$TOP/../shared/realdata}
[ -d "$rd" ] || rd=/work/shared/realdata
if [ -d "$rd" ]; then
        n=0
        while IFS= read -r ks; do
                "$IMGBUILD" build -n -r 20240101 -k "$ks" > /dev/null 2> err || { echo "FAIL $ks"; cat err; exit 1; }
                n=$((n + 1))
        done < <(find "$rd" -name '*.ks' -o -name 'payload-develop.cfg' | sort)
        [ "$n" -ge 12 ] || { echo "only $n realdata kickstarts found"; exit 1; }
        echo "$n realdata kickstarts give a plan"
else
        echo "realdata not found: realdata kickstarts skipped"
fi
