/* nfqueue binding for one netns: bind, configure, read packets in batches, answer verdicts. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "nfq.h"

/* Packets read per recvmmsg(); verdicts for them go out in one sendmsg(). */
#define RX_BATCH 64
/* One queued packet message: headers + attributes + PF_NFQ_COPY_RANGE payload is < 1 KiB;
 * a larger slot costs nothing but memory and never truncates. */
#define RX_SLOT 4096
/* A verdict message with a mark is 40 bytes. */
#define TX_SLOT 64
/* Per dispatch call, so one busy netns cannot starve the others in the engine's loop
 * (epoll is level-triggered: the rest is read on the next turn). */
#define DISPATCH_MAX 1024
#define RCVBUF_BYTES (8 << 20)
#define CFG_TIMEOUT_S 5

struct pf_nfq {
	struct mnl_socket *nl;
	int fd;
	uint16_t queue_num;
	uint32_t portid;
	pf_nfq_cb cb;
	void *userdata;
	struct pf_nfq_stats stats;
	struct mmsghdr msgs[RX_BATCH];
	struct iovec iov[RX_BATCH];
	uint8_t *rx; /* RX_BATCH * RX_SLOT */
	uint8_t tx[RX_BATCH * TX_SLOT] __attribute__((aligned(8)));
};

void pf_nfq_close(struct pf_nfq *q)
{
	if (!q)
		return;
	/* Closing the socket unbinds the queue (the kernel sees NETLINK_URELEASE). */
	if (q->nl)
		mnl_socket_close(q->nl);
	free(q->rx);
	free(q);
}

static void nfq_closep(struct pf_nfq **q)
{
	pf_nfq_close(*q);
}

int pf_nfq_fd(const struct pf_nfq *q)
{
	return q->fd;
}

uint16_t pf_nfq_queue_num(const struct pf_nfq *q)
{
	return q->queue_num;
}

void pf_nfq_get_stats(const struct pf_nfq *q, struct pf_nfq_stats *out)
{
	*out = q->stats;
}

/* Send one configuration message with NLM_F_ACK and wait for its answer (the socket is
 * still blocking, with a receive timeout). */
static int cfg_talk(struct pf_nfq *q, struct nlmsghdr *nlh)
{
	char buf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(8)));
	uint32_t seq = nlh->nlmsg_seq;

	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(q->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t len = mnl_socket_recvfrom(q->nl, buf, sizeof(buf));
		int r;

		if (len < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		r = mnl_cb_run(buf, (size_t)len, seq, q->portid, NULL, NULL);
		if (r < 0)
			return -errno;
		if (r == MNL_CB_STOP)
			return 0;
	}
}

int pf_nfq_open(uint16_t queue_num, bool fail_open, pf_nfq_cb cb, void *userdata,
		struct pf_nfq **out, struct pf_error *err)
{
	_cleanup_(nfq_closep) struct pf_nfq *q = NULL;
	char buf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(8)));
	struct timeval tv = {.tv_sec = CFG_TIMEOUT_S};
	struct nlmsghdr *nlh;
	uint32_t flags, seq;
	int rcvbuf = RCVBUF_BYTES, one = 1, r, fl;

	if (!cb || !out)
		return pf_error_set(err, EINVAL, "nfqueue: no callback");
	q = calloc(1, sizeof(*q));
	if (!q)
		return pf_error_set(err, ENOMEM, "out of memory");
	q->queue_num = queue_num;
	q->cb = cb;
	q->userdata = userdata;
	q->rx = malloc((size_t)RX_BATCH * RX_SLOT);
	if (!q->rx)
		return pf_error_set(err, ENOMEM, "out of memory");
	for (int i = 0; i < RX_BATCH; i++) {
		q->iov[i].iov_base = q->rx + (size_t)i * RX_SLOT;
		q->iov[i].iov_len = RX_SLOT;
		q->msgs[i].msg_hdr.msg_iov = &q->iov[i];
		q->msgs[i].msg_hdr.msg_iovlen = 1;
	}

	q->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!q->nl)
		return pf_error_set(err, errno, "nfqueue: netlink socket: %s", strerror(errno));
	q->fd = mnl_socket_get_fd(q->nl);
	if (mnl_socket_bind(q->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		return pf_error_set(err, errno, "nfqueue: bind: %s", strerror(errno));
	q->portid = mnl_socket_get_portid(q->nl);
	/* A burst of SYNs must not overflow us: FORCE works as root past rmem_max. */
	if (setsockopt(q->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(q->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	(void)mnl_socket_setsockopt(q->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	if (setsockopt(q->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return pf_error_set(err, errno, "nfqueue: SO_RCVTIMEO: %s", strerror(errno));
	seq = (uint32_t)pf_mono_ns();

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue_num);
	nlh->nlmsg_seq = seq++;
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
	r = cfg_talk(q, nlh);
	/* The kernel answers EPERM both to a queue another socket holds and to a caller
	 * without CAP_NET_ADMIN. */
	if (r == -EPERM || r == -EBUSY)
		return pf_error_set(err, -r,
				    "nfqueue: queue %u is already bound in this netns by another "
				    "process (or no CAP_NET_ADMIN)",
				    (unsigned)queue_num);
	if (r < 0)
		return pf_error_set(err, -r, "nfqueue: bind queue %u: %s", (unsigned)queue_num,
				    strerror(-r));

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue_num);
	nlh->nlmsg_seq = seq++;
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, PF_NFQ_COPY_RANGE);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, PF_NFQ_QUEUE_MAXLEN);
	/* GSO: we never change the payload, so the kernel need not segment for us. */
	flags = NFQA_CFG_F_GSO | (fail_open ? NFQA_CFG_F_FAIL_OPEN : 0);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
	r = cfg_talk(q, nlh);
	if (r < 0)
		return pf_error_set(err, -r, "nfqueue: configure queue %u: %s", (unsigned)queue_num,
				    strerror(-r));

	fl = fcntl(q->fd, F_GETFL);
	if (fl < 0 || fcntl(q->fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return pf_error_set(err, errno, "nfqueue: O_NONBLOCK: %s", strerror(errno));
	*out = PF_TAKE_PTR(q);
	return 0;
}

/* Handle one message from the kernel; appends a verdict to tx at *txoff when it was a
 * packet. Returns 1 for a packet, 0 otherwise. */
static int handle_msg(struct pf_nfq *q, const struct nlmsghdr *nlh, size_t *txoff)
{
	struct nlattr *attr[NFQA_MAX + 1] = {0};
	const struct nfqnl_msg_packet_hdr *ph;
	struct pf_tuple tuple, *tp = NULL;
	struct nlmsghdr *v;
	uint32_t id, verdict, mark = 0;

	if (nlh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

		if (nlh->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error)
			q->stats.kernel_errors++;
		return 0;
	}
	if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_QUEUE ||
	    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFQNL_MSG_PACKET)
		return 0;
	if (nlh->nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg)) ||
	    nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR] ||
	    mnl_attr_get_payload_len(attr[NFQA_PACKET_HDR]) < sizeof(*ph)) {
		q->stats.kernel_errors++;
		return 0;
	}
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	id = ntohl(ph->packet_id);
	if (attr[NFQA_PAYLOAD] &&
	    pf_packet_parse(mnl_attr_get_payload(attr[NFQA_PAYLOAD]),
			    mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]), &tuple) == 0)
		tp = &tuple;
	else
		q->stats.unparsed++;
	q->stats.packets++;

	verdict = q->cb(q->userdata, id, tp, &mark);
	if (verdict == NF_REPEAT && mark == 0)
		verdict = NF_DROP; /* repeating unmarked would queue the packet again, forever */
	if (verdict != NF_ACCEPT && verdict != NF_DROP && verdict != NF_REPEAT)
		verdict = NF_DROP;

	v = nfq_nlmsg_put((char *)q->tx + *txoff, NFQNL_MSG_VERDICT, q->queue_num);
	nfq_nlmsg_verdict_put(v, (int)id, (int)verdict);
	if (verdict == NF_REPEAT)
		nfq_nlmsg_verdict_put_mark(v, mark);
	*txoff += NLMSG_ALIGN(v->nlmsg_len);
	return 1;
}

static void send_verdicts(struct pf_nfq *q, size_t len)
{
	/* Several messages in one datagram: nfnetlink walks them all, one syscall. */
	if (len && mnl_socket_sendto(q->nl, q->tx, len) < 0)
		q->stats.send_errors++;
}

int pf_nfq_dispatch(struct pf_nfq *q)
{
	int handled = 0;

	while (handled < DISPATCH_MAX) {
		size_t txoff = 0;
		int n;

		for (int i = 0; i < RX_BATCH; i++)
			q->msgs[i].msg_hdr.msg_flags = 0;
		n = recvmmsg(q->fd, q->msgs, RX_BATCH, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == ENOBUFS) { /* the kernel dropped (or failed open) packets */
				q->stats.enobufs++;
				continue;
			}
			return handled ? handled : -errno;
		}
		if (n == 0)
			break;
		q->stats.recv_calls++;
		for (int i = 0; i < n; i++) {
			const struct nlmsghdr *nlh = (const struct nlmsghdr *)q->iov[i].iov_base;
			int rem = (int)q->msgs[i].msg_len;

			if (q->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
				q->stats.kernel_errors++;
				continue;
			}
			/* One packet per datagram, but walk in case of several messages. A tx slot
			 * per datagram: more than one packet per datagram would need more room. */
			for (; mnl_nlmsg_ok(nlh, rem); nlh = mnl_nlmsg_next(nlh, &rem)) {
				if (txoff + TX_SLOT > sizeof(q->tx)) {
					send_verdicts(q, txoff);
					txoff = 0;
				}
				handled += handle_msg(q, nlh, &txoff);
			}
		}
		send_verdicts(q, txoff);
		if (n < RX_BATCH)
			break;
	}
	return handled;
}
