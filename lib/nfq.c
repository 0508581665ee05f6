/* SPDX-License-Identifier: GPL-2.0-or-later */
/* nfqueue binding for one netns: bind, configure, read packets in batches, answer verdicts. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#include "nfq.h"

/* Packets read per recvmmsg(); verdicts for them go out in one sendmsg(). */
#define RX_BATCH PF_NFQ_ROUND_MAX
/* One queued packet message: headers + attributes (< 300 bytes with the flags we set) +
 * PF_NFQ_COPY_RANGE payload; a message that still does not fit is handled as truncated. */
#define RX_SLOT 4096
_Static_assert(PF_NFQ_COPY_RANGE + 512 <= RX_SLOT, "a queued packet must fit a receive slot");
_Static_assert(PF_NFQ_ROUND_MAX % RX_BATCH == 0, "whole receive batches per round");
/* A verdict message with a mark is 40 bytes. */
#define TX_SLOT 64
#define RCVBUF_BYTES (8 << 20)
#define CFG_TIMEOUT_S 5
#define PROC_QUEUES "/proc/thread-self/net/netfilter/nfnetlink_queue"

struct pf_nfq {
	struct mnl_socket *nl;
	int fd;
	uint16_t queue_num;
	uint32_t portid;
	pf_nfq_cb cb;
	void *userdata;
	struct pf_nfq_stats stats;
	int proc_fd; /* the netns's nfnetlink_queue file, -1 when it could not be opened */
	/* A batch verdict still owed: drop every packet with an id up to lost_upto. */
	bool lost;
	uint32_t lost_upto; /* 0: not known yet (the next packet id we see tells) */
	unsigned test_lose_sends;
	uint32_t tx_max_id; /* the verdicts in tx: the last id, and how many */
	unsigned tx_n;
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
	if (q->proc_fd >= 0)
		close(q->proc_fd);
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

/* Our line of /proc/net/netfilter/nfnetlink_queue: queue_num portid queue_total copy_mode
 * copy_range queue_dropped user_dropped id_sequence 1. */
static void read_kernel_counters(const struct pf_nfq *q, struct pf_nfq_stats *out)
{
	char buf[8192];
	ssize_t n;

	if (q->proc_fd < 0)
		return;
	n = pread(q->proc_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return;
	buf[n] = '\0';
	for (char *line = buf, *next; line && *line; line = next) {
		unsigned num, portid, total, mode, range, qdrop, udrop, seq;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (sscanf(line, "%u %u %u %u %u %u %u %u", &num, &portid, &total, &mode, &range,
			   &qdrop, &udrop, &seq) != 8 ||
		    num != q->queue_num || portid != q->portid)
			continue;
		out->queue_total = total;
		out->queue_dropped = qdrop;
		out->user_dropped = udrop;
		return;
	}
}

void pf_nfq_get_stats(const struct pf_nfq *q, struct pf_nfq_stats *out)
{
	*out = q->stats;
	read_kernel_counters(q, out);
}

void pf_nfq_add_stats(struct pf_nfq_stats *sum, const struct pf_nfq *q)
{
	struct pf_nfq_stats s;

	pf_nfq_get_stats(q, &s);
	sum->packets += s.packets;
	sum->unparsed += s.unparsed;
	sum->enobufs += s.enobufs;
	sum->send_errors += s.send_errors;
	sum->kernel_errors += s.kernel_errors;
	sum->recv_calls += s.recv_calls;
	sum->truncated += s.truncated;
	sum->verdicts_lost += s.verdicts_lost;
	sum->recoveries += s.recoveries;
	sum->queue_dropped += s.queue_dropped;
	sum->user_dropped += s.user_dropped;
	/* queue_total is a gauge of one live queue: it does not add up over time. */
}

void pf_nfq_test_lose_sends(struct pf_nfq *q, unsigned n)
{
	q->test_lose_sends = n;
}

void pf_nfq_test_rx_slot(struct pf_nfq *q, size_t bytes)
{
	bytes = MAX(MIN(bytes, (size_t)RX_SLOT), (size_t)64);
	for (int i = 0; i < RX_BATCH; i++)
		q->iov[i].iov_len = bytes;
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

int pf_nfq_close_later(struct pf_nfq *q)
{
	char buf[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(8)));
	struct nlmsghdr *nlh;
	int fd;

	if (!q)
		return -1;
	if (!q->nl) {
		pf_nfq_close(q);
		return -1;
	}
	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->queue_num);
	nlh->nlmsg_seq = (uint32_t)pf_mono_ns();
	nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_UNBIND);
	/* A copy keeps the socket open past mnl_socket_close: the release, and its wait, come
	 * with the caller's close of the copy. */
	fd = cfg_talk(q, nlh) == 0 ? fcntl(q->fd, F_DUPFD_CLOEXEC, 0) : -1;
	pf_nfq_close(q);
	return fd;
}

int pf_nfq_open(uint16_t queue_num, uint32_t maxlen, pf_nfq_cb cb, void *userdata,
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
	if (maxlen > PF_NFQ_QUEUE_MAXLEN_MAX)
		return pf_error_set(err, EINVAL, "nfqueue: queue length %" PRIu32 " is over %d",
				    maxlen, PF_NFQ_QUEUE_MAXLEN_MAX);
	q = calloc(1, sizeof(*q));
	if (!q)
		return pf_error_set(err, ENOMEM, "out of memory");
	q->proc_fd = -1;
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
	nfq_nlmsg_cfg_put_qmaxlen(nlh, maxlen ? maxlen : PF_NFQ_QUEUE_MAXLEN);
	/* GSO: we never change the payload, so the kernel need not segment for us. Never
	 * FAIL_OPEN: a pod could fill its own queue and have the rest accepted unjudged; a full
	 * queue drops (the sender retransmits). The rule's bypass flag still covers an engine
	 * that is not there at all. */
	flags = NFQA_CFG_F_GSO;
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
	r = cfg_talk(q, nlh);
	if (r < 0)
		return pf_error_set(err, -r, "nfqueue: configure queue %u: %s", (unsigned)queue_num,
				    strerror(-r));

	/* /proc/net follows the calling thread's netns only at open: the fd keeps this one. */
	q->proc_fd = open(PROC_QUEUES, O_RDONLY | O_CLOEXEC);

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
		/* A packet we cannot name: drop everything up to the next id we see. */
		q->stats.kernel_errors++;
		q->stats.verdicts_lost++;
		if (!q->lost) {
			q->lost = true;
			q->lost_upto = 0;
		}
		return 0;
	}
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	id = ntohl(ph->packet_id);
	if (q->lost && q->lost_upto == 0)
		q->lost_upto = id - 1;
	if (attr[NFQA_PAYLOAD] &&
	    pf_packet_parse_flow(mnl_attr_get_payload(attr[NFQA_PAYLOAD]),
				 mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]), &tuple) == 0) {
		tp = &tuple;
		tuple.inbound = ph->hook == NF_INET_LOCAL_IN;
	} else
		q->stats.unparsed++;
	q->stats.packets++;

	verdict = q->cb(q->userdata, id, tp, &mark);
	if (!tp)
		verdict = NF_DROP; /* what we cannot read is never let through, whatever the mode */
	if (verdict == NF_REPEAT && mark == 0)
		verdict = NF_DROP; /* repeating unmarked would queue the packet again, forever */
	if (verdict != NF_ACCEPT && verdict != NF_DROP && verdict != NF_REPEAT)
		verdict = NF_DROP;

	v = nfq_nlmsg_put((char *)q->tx + *txoff, NFQNL_MSG_VERDICT, q->queue_num);
	nfq_nlmsg_verdict_put(v, (int)id, (int)verdict);
	if (verdict == NF_REPEAT)
		nfq_nlmsg_verdict_put_mark(v, mark);
	*txoff += NLMSG_ALIGN(v->nlmsg_len);
	q->tx_max_id = id; /* ids grow in queue order */
	q->tx_n++;
	return 1;
}

/* ids compare modulo 2^32, as the kernel compares them. */
static bool id_after(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) > 0;
}

/* One datagram to the kernel; a failed one is retried once (ENOBUFS, ENOMEM and EINTR pass). */
static int send_once(struct pf_nfq *q, const void *buf, size_t len)
{
	for (int i = 0; i < 2; i++) {
		if (mnl_socket_sendto(q->nl, buf, len) >= 0)
			return 0;
		if (errno != EINTR && errno != ENOBUFS && errno != ENOMEM && errno != EAGAIN)
			break;
	}
	return -errno;
}

/* Drop every packet still queued with an id up to lost_upto: the ones whose verdict never
 * reached the kernel, and at most packets we have not read yet (dropped unjudged: their
 * senders retransmit). */
static void recover(struct pf_nfq *q)
{
	char buf[128] __attribute__((aligned(8)));
	struct nlmsghdr *v;

	if (!q->lost || q->lost_upto == 0)
		return;
	v = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT_BATCH, q->queue_num);
	nfq_nlmsg_verdict_put(v, (int)q->lost_upto, NF_DROP);
	if (send_once(q, v, v->nlmsg_len) < 0)
		return; /* the next dispatch or tick tries again */
	q->lost = false;
	q->lost_upto = 0;
	q->stats.recoveries++;
}

static void send_verdicts(struct pf_nfq *q, size_t len)
{
	int r = 0;

	if (!len)
		return;
	/* Several messages in one datagram: nfnetlink walks them all, one syscall. */
	if (q->test_lose_sends) {
		q->test_lose_sends--;
		r = -ENOBUFS;
	} else {
		r = send_once(q, q->tx, len);
	}
	if (r < 0) {
		q->stats.send_errors++;
		q->stats.verdicts_lost += q->tx_n;
		if (!q->lost || q->lost_upto == 0 || id_after(q->tx_max_id, q->lost_upto))
			q->lost_upto = q->tx_max_id;
		q->lost = true;
		recover(q);
	}
	q->tx_n = 0;
}

bool pf_nfq_tick(struct pf_nfq *q)
{
	if (!q)
		return false;
	if (q->lost && q->lost_upto == 0) {
		/* A message we could not name and no packet since: the kernel's last id covers
		 * it (sequence numbers are per queue and only grow). */
		char buf[8192];
		ssize_t n = q->proc_fd >= 0 ? pread(q->proc_fd, buf, sizeof(buf) - 1, 0) : -1;

		if (n > 0) {
			buf[n] = '\0';
			for (char *line = buf, *next; line && *line; line = next) {
				unsigned num, portid, f[5], seq;

				next = strchr(line, '\n');
				if (next)
					*next++ = '\0';
				if (sscanf(line, "%u %u %u %u %u %u %u %u", &num, &portid, &f[0],
					   &f[1], &f[2], &f[3], &f[4], &seq) == 8 &&
				    num == q->queue_num && portid == q->portid)
					q->lost_upto = seq;
			}
		}
	}
	recover(q);
	return q->lost;
}

int pf_nfq_dispatch(struct pf_nfq *q)
{
	int handled = 0, rounds = 0;

	recover(q);
	while (rounds++ < PF_NFQ_ROUND_MAX / RX_BATCH) {
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
			if (errno == ENOBUFS) {
				/* The kernel could not hand us some packets; it dropped them
				 * (user_dropped) and holds nothing for us: no slot is lost. */
				q->stats.enobufs++;
				continue;
			}
			return handled ? handled : -errno;
		}
		if (n == 0)
			break;
		q->stats.recv_calls++;
		q->tx_n = 0;
		for (int i = 0; i < n; i++) {
			struct nlmsghdr *nlh = (struct nlmsghdr *)q->iov[i].iov_base;
			int rem = (int)MIN(q->msgs[i].msg_len, (unsigned)q->iov[i].iov_len);

			if (q->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
				/* The packet is still queued in the kernel: answer it from what
				 * we have (its header comes first; the payload, cut, is not
				 * read), so the message is cut to the slot. */
				q->stats.truncated++;
				if (rem >= (int)NLMSG_HDRLEN && nlh->nlmsg_len > (uint32_t)rem)
					nlh->nlmsg_len = (uint32_t)rem;
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
