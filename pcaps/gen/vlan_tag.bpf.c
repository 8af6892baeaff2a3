/* tc (cls_bpf, direct-action) programs used by make-layouts.sh to put real
 * 802.1Q / 802.1ad tags on the frames of a veth pair.
 *
 * The capture kernel has no 8021q module (CONFIG_VLAN_8021Q unset: no VLAN
 * sub-interfaces, no bridge VLAN filtering) and no act_vlan, but it has
 * cls_bpf.  These programs call the kernel's own skb_vlan_push() /
 * skb_vlan_pop() (the code act_vlan and OVS use) through the BPF helpers:
 *   egress:  push the tag(s)  -> frames leave the veth tagged
 *   ingress: pop the tag(s)   -> the IP stack gets them untagged
 * Packet taps (tcpdump) see egress frames after tc egress and ingress frames
 * before tc ingress, so a capture on either veth end sees every frame tagged.
 *
 * build: clang -O2 -target bpf -I/usr/include/x86_64-linux-gnu -c vlan_tag.bpf.c
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

static long (*bpf_skb_vlan_push)(struct __sk_buff *skb, __u16 proto, __u16 tci) =
    (void *)BPF_FUNC_skb_vlan_push;
static long (*bpf_skb_vlan_pop)(struct __sk_buff *skb) = (void *)BPF_FUNC_skb_vlan_pop;

#define SEC(n) __attribute__((section(n), used))
#define BE16(x) ((__u16)((((x) & 0xff) << 8) | (((x) >> 8) & 0xff)))

#define C_VID 100     /* 802.1Q customer tag */
#define S_VID 200     /* 802.1ad service tag (QinQ outer) */

SEC("tc_push_vlan") int push_vlan(struct __sk_buff *skb)
{
    bpf_skb_vlan_push(skb, BE16(0x8100), C_VID);
    return TC_ACT_OK;
}

SEC("tc_push_qinq") int push_qinq(struct __sk_buff *skb)
{
    bpf_skb_vlan_push(skb, BE16(0x8100), C_VID);   /* inner C-tag */
    bpf_skb_vlan_push(skb, BE16(0x88a8), S_VID);   /* outer S-tag */
    return TC_ACT_OK;
}

SEC("tc_pop_vlan") int pop_vlan(struct __sk_buff *skb)
{
    bpf_skb_vlan_pop(skb);
    return TC_ACT_OK;
}

SEC("tc_pop_qinq") int pop_qinq(struct __sk_buff *skb)
{
    bpf_skb_vlan_pop(skb);
    bpf_skb_vlan_pop(skb);
    return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
