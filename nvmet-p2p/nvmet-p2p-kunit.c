// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite of nvmet-p2p's provider selection: the namespace attribute's
 * parser, the clients a queue collects, the provider a queue gets, and the
 * providers a controller holds. Built only for a kernel with KUnit (the
 * debug test kernel); runs on the rig's devices, which the guest script
 * (tests/guest/kunit.sh) sets up: the ivshmem BAR published by p2pdma_bar,
 * the e1000e behind the same switch, an NVMe drive outside it.
 */

#include <kunit/test.h>
#include <linux/kref.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <p2pdma/p2pdma.h>

#include "nvmet.h"
#include "nvmet-p2p-kunit.h"

MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);

struct nvmet_p2p_rig {
	struct pci_dev *ivshmem;	/* published provider, in the switch */
	struct pci_dev *nic;		/* e1000e, in the switch, no memory */
	struct pci_dev *outside;	/* NVMe drive on its own root port */
};

static struct pci_dev *nvmet_p2p_outside_drive(void)
{
	struct pci_dev *pdev = NULL, *up;

	while ((pdev = pci_get_device(PCI_VENDOR_ID_REDHAT, 0x0010, pdev))) {
		up = pci_upstream_bridge(pdev);
		if (up && pci_pcie_type(up) == PCI_EXP_TYPE_ROOT_PORT)
			return pdev;
	}
	return NULL;
}

static int nvmet_p2p_suite_init(struct kunit *test)
{
	struct nvmet_p2p_rig *rig = kunit_kzalloc(test, sizeof(*rig), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, rig);
	rig->ivshmem = pci_get_device(PCI_VENDOR_ID_REDHAT_QUMRANET, 0x1110, NULL);
	rig->nic = pci_get_device(PCI_VENDOR_ID_INTEL, 0x10d3, NULL);
	rig->outside = nvmet_p2p_outside_drive();
	test->priv = rig;
	KUNIT_ASSERT_NOT_NULL_MSG(test, rig->ivshmem, "no ivshmem: not the rig");
	KUNIT_ASSERT_NOT_NULL_MSG(test, rig->nic, "no e1000e: not the rig");
	KUNIT_ASSERT_NOT_NULL_MSG(test, rig->outside, "no outside drive");
	KUNIT_ASSERT_TRUE_MSG(test, p2pdma_published(rig->ivshmem),
			      "ivshmem is not bound to p2pdma_bar");
	return 0;
}

static void nvmet_p2p_suite_exit(struct kunit *test)
{
	struct nvmet_p2p_rig *rig = test->priv;

	if (!rig)
		return;
	pci_dev_put(rig->ivshmem);
	pci_dev_put(rig->nic);
	pci_dev_put(rig->outside);
}

static unsigned int nvmet_p2p_refs(struct pci_dev *pdev)
{
	return kref_read(&pdev->dev.kobj.kref);
}

/* 0, 1 and kstrtobool's spellings set use, pin nothing. */
static void nvmet_p2p_parse_bools(struct kunit *test)
{
	static const struct {
		const char *in;
		bool use;
	} cases[] = {
		{ "0", false }, { "1", true }, { "0\n", false }, { "1\n", true },
		{ "y", true }, { "n", false }, { "on", true }, { "off", false },
	};
	struct nvmet_ns ns = { .nsid = 1 };
	struct pci_dev *pin;
	unsigned int i;
	bool use;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		use = !cases[i].use;
		KUNIT_EXPECT_EQ_MSG(test, nvmet_p2p_ns_p2pmem_parse(&ns, cases[i].in,
								    &use, &pin), 0,
				    "input \"%s\"", cases[i].in);
		KUNIT_EXPECT_EQ_MSG(test, use, cases[i].use, "input \"%s\"",
				    cases[i].in);
		KUNIT_EXPECT_NULL(test, pin);
	}
}

/* Anything else is refused with the errno the configfs write returns. */
static void nvmet_p2p_parse_refused(struct kunit *test)
{
	struct nvmet_p2p_rig *rig = test->priv;
	struct nvmet_ns ns = { .nsid = 1 };
	struct pci_dev *pin;
	bool use = false;

	KUNIT_EXPECT_EQ(test, nvmet_p2p_ns_p2pmem_parse(&ns, "2", &use, &pin),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, nvmet_p2p_ns_p2pmem_parse(&ns, "", &use, &pin),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, nvmet_p2p_ns_p2pmem_parse(&ns, "-1", &use, &pin),
			-EINVAL);
	/* A name that is no PCI device, and one that has no memory. */
	KUNIT_EXPECT_EQ(test, nvmet_p2p_ns_p2pmem_parse(&ns, "0000:ff:1f.7\n",
							&use, &pin), -ENODEV);
	KUNIT_EXPECT_NULL(test, pin);
	KUNIT_EXPECT_EQ(test, nvmet_p2p_ns_p2pmem_parse(&ns, pci_name(rig->nic),
							&use, &pin), -ENODEV);
	KUNIT_EXPECT_NULL(test, pin);
	KUNIT_EXPECT_FALSE(test, use);
}

/* A provider's name pins it, with a reference the caller owns. */
static void nvmet_p2p_parse_pin(struct kunit *test)
{
	struct nvmet_p2p_rig *rig = test->priv;
	struct nvmet_ns ns = { .nsid = 1 };
	unsigned int refs = nvmet_p2p_refs(rig->ivshmem);
	struct pci_dev *pin = NULL;
	char name[32];
	bool use = false;

	snprintf(name, sizeof(name), "%s\n", pci_name(rig->ivshmem));
	KUNIT_ASSERT_EQ(test, nvmet_p2p_ns_p2pmem_parse(&ns, name, &use, &pin), 0);
	KUNIT_EXPECT_TRUE(test, use);
	KUNIT_EXPECT_PTR_EQ(test, pin, rig->ivshmem);
	KUNIT_EXPECT_EQ(test, nvmet_p2p_refs(rig->ivshmem), refs + 1);
	pci_dev_put(pin);
	KUNIT_EXPECT_EQ(test, nvmet_p2p_refs(rig->ivshmem), refs);
}

struct nvmet_p2p_queue {
	struct nvmet_subsys subsys;
	struct nvmet_ctrl ctrl;
	struct nvmet_sq sq;
	struct nvmet_ns ns;
};

/* An I/O queue (not queue 1, which logs) of a controller with no namespace. */
static struct nvmet_p2p_queue *nvmet_p2p_queue(struct kunit *test,
					       struct device *client)
{
	struct nvmet_p2p_queue *q = kunit_kzalloc(test, sizeof(*q), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, q);
	mutex_init(&q->subsys.lock);
	xa_init(&q->subsys.namespaces);
	q->ctrl.subsys = &q->subsys;
	q->sq.ctrl = &q->ctrl;
	q->sq.qid = 2;
	q->sq.p2p.client = client;
	q->ns.nsid = 1;
	q->ns.subsys = &q->subsys;
	return q;
}

/* nvmet_p2p_clients() with @q's one namespace as given; returns nr. */
static int nvmet_p2p_count_clients(struct kunit *test,
				   struct nvmet_p2p_queue *q,
				   struct device *expect_first)
{
	struct p2pdma_client *clients = NULL;
	struct pci_dev *pin = (void *)1;
	int nr;

	nr = nvmet_p2p_clients(&q->sq, &clients, &pin);
	KUNIT_EXPECT_NOT_NULL(test, clients);
	KUNIT_EXPECT_NULL(test, pin);
	if (clients && nr > 0)
		KUNIT_EXPECT_PTR_EQ(test, clients[0].dev, expect_first);
	kfree(clients);
	return nr;
}

/*
 * The transport's device is always a client; a namespace counts once
 * enabled with p2pmem 1, and one without a block device (a file) makes
 * the queue's memory system memory (-1).
 */
static void nvmet_p2p_clients_of_queue(struct kunit *test)
{
	struct nvmet_p2p_rig *rig = test->priv;
	struct nvmet_p2p_queue *q = nvmet_p2p_queue(test, &rig->nic->dev);

	KUNIT_EXPECT_EQ(test, nvmet_p2p_count_clients(test, q, &rig->nic->dev), 1);

	KUNIT_ASSERT_EQ(test, xa_insert(&q->subsys.namespaces, 1, &q->ns,
					GFP_KERNEL), 0);
	q->subsys.nr_namespaces = 1;
	q->ns.use_p2pmem = true;
	KUNIT_EXPECT_EQ_MSG(test, nvmet_p2p_count_clients(test, q, &rig->nic->dev),
			    1, "a disabled namespace is no client");
	q->ns.enabled = true;
	q->ns.use_p2pmem = false;
	KUNIT_EXPECT_EQ_MSG(test, nvmet_p2p_count_clients(test, q, &rig->nic->dev),
			    1, "a namespace with p2pmem 0 is no client");
	q->ns.use_p2pmem = true;
	KUNIT_EXPECT_EQ_MSG(test, nvmet_p2p_count_clients(test, q, &rig->nic->dev),
			    -1, "a file namespace takes no p2p memory");
	xa_destroy(&q->subsys.namespaces);
}

/* A pin wins when it serves every client, and nothing else does then. */
static void nvmet_p2p_pinned_provider(struct kunit *test)
{
	struct nvmet_p2p_rig *rig = test->priv;
	struct nvmet_p2p_queue *q = nvmet_p2p_queue(test, &rig->nic->dev);
	struct p2pdma_client clients[2] = {
		{ .dev = &rig->nic->dev }, { .dev = &rig->outside->dev },
	};
	unsigned int refs = nvmet_p2p_refs(rig->ivshmem);
	struct pci_dev *got;

	got = nvmet_p2p_provider_for(&q->sq, clients, 1, rig->ivshmem);
	KUNIT_EXPECT_PTR_EQ(test, got, rig->ivshmem);
	KUNIT_EXPECT_EQ(test, nvmet_p2p_refs(rig->ivshmem), refs + 1);
	pci_dev_put(got);

	got = nvmet_p2p_provider_for(&q->sq, clients, 2, rig->ivshmem);
	KUNIT_EXPECT_NULL_MSG(test, got, "the outside drive cannot reach the pin");
	pci_dev_put(got);

	got = nvmet_p2p_provider_for(&q->sq, clients, 1, rig->nic);
	KUNIT_EXPECT_NULL_MSG(test, got, "a pin without memory serves nobody");
	pci_dev_put(got);
	KUNIT_EXPECT_EQ(test, nvmet_p2p_refs(rig->ivshmem), refs);
}

/* Whether @a and @b sit under one PCI bridge below the root port. */
static bool nvmet_p2p_same_switch(struct pci_dev *a, struct pci_dev *b)
{
	struct pci_dev *x, *y;

	for (x = pci_upstream_bridge(a); x; x = pci_upstream_bridge(x))
		for (y = pci_upstream_bridge(b); y; y = pci_upstream_bridge(y))
			if (x == y && pci_pcie_type(x) != PCI_EXP_TYPE_ROOT_PORT)
				return true;
	return false;
}

/* Without a pin the queue gets a published provider in its switch. */
static void nvmet_p2p_found_provider(struct kunit *test)
{
	struct nvmet_p2p_rig *rig = test->priv;
	struct nvmet_p2p_queue *q = nvmet_p2p_queue(test, &rig->nic->dev);
	struct p2pdma_client client = { .dev = &rig->nic->dev };
	struct p2pdma_client outside = { .dev = &rig->outside->dev };
	struct pci_dev *got;

	got = nvmet_p2p_provider_for(&q->sq, &client, 1, NULL);
	KUNIT_ASSERT_NOT_NULL(test, got);
	KUNIT_EXPECT_TRUE(test, p2pdma_published(got));
	KUNIT_EXPECT_TRUE_MSG(test, nvmet_p2p_same_switch(got, rig->nic),
			      "%s is not in the switch of %s", pci_name(got),
			      pci_name(rig->nic));
	pci_dev_put(got);

	q->sq.p2p.client = &rig->outside->dev;
	got = nvmet_p2p_provider_for(&q->sq, &outside, 1, NULL);
	KUNIT_EXPECT_NULL_MSG(test, got, "nothing serves the outside drive");
	pci_dev_put(got);
}

/*
 * A controller notes each provider once, with one reference each, up to
 * NVMET_P2P_CTRL_PROVIDERS; the release drops them all.
 */
static void nvmet_p2p_ctrl_providers(struct kunit *test)
{
	struct nvmet_p2p_rig *rig = test->priv;
	struct nvmet_p2p_queue *q = nvmet_p2p_queue(test, NULL);
	struct pci_dev *devs[NVMET_P2P_CTRL_PROVIDERS + 1] = {}, *pdev = NULL;
	unsigned int refs[ARRAY_SIZE(devs)];
	int i, n = 0;

	/* Any PCI devices do: the controller only keeps them. */
	while (n < ARRAY_SIZE(devs) && (pdev = pci_get_device(PCI_ANY_ID, PCI_ANY_ID, pdev)))
		devs[n++] = pci_dev_get(pdev);
	pci_dev_put(pdev);
	for (i = 0; i < n; i++)
		refs[i] = nvmet_p2p_refs(devs[i]);
	KUNIT_ASSERT_EQ_MSG(test, n, (int)ARRAY_SIZE(devs), "the rig has %d PCI devices", n);

	for (i = 0; i < NVMET_P2P_CTRL_PROVIDERS; i++) {
		KUNIT_EXPECT_TRUE(test, nvmet_p2p_ctrl_add(&q->ctrl, devs[i]));
		KUNIT_EXPECT_EQ(test, nvmet_p2p_refs(devs[i]), refs[i] + 1);
	}
	KUNIT_EXPECT_TRUE_MSG(test, nvmet_p2p_ctrl_add(&q->ctrl, devs[0]),
			      "a provider the controller holds is no new one");
	KUNIT_EXPECT_EQ(test, nvmet_p2p_refs(devs[0]), refs[0] + 1);
	KUNIT_EXPECT_FALSE_MSG(test, nvmet_p2p_ctrl_add(&q->ctrl, devs[n - 1]),
			       "no room: the queue must not use it");
	KUNIT_EXPECT_EQ(test, nvmet_p2p_refs(devs[n - 1]), refs[n - 1]);

	mutex_lock(&q->subsys.lock);
	nvmet_p2p_ctrl_release(&q->ctrl);
	mutex_unlock(&q->subsys.lock);
	for (i = 0; i < n; i++) {
		KUNIT_EXPECT_EQ(test, nvmet_p2p_refs(devs[i]), refs[i]);
		pci_dev_put(devs[i]);
	}
	KUNIT_EXPECT_TRUE(test, p2pdma_published(rig->ivshmem));
}

/* Providers gone or withdrawn leave the controller, with their references. */
static void nvmet_p2p_ctrl_pruned(struct kunit *test)
{
	struct nvmet_p2p_rig *rig = test->priv;
	struct nvmet_p2p_queue *q = nvmet_p2p_queue(test, NULL);
	unsigned int nic_refs = nvmet_p2p_refs(rig->nic);
	unsigned int shm_refs = nvmet_p2p_refs(rig->ivshmem);

	/* The NIC stands for a provider that has gone: it publishes nothing. */
	KUNIT_ASSERT_TRUE(test, nvmet_p2p_ctrl_add(&q->ctrl, rig->nic));
	KUNIT_ASSERT_TRUE(test, nvmet_p2p_ctrl_add(&q->ctrl, rig->ivshmem));
	mutex_lock(&q->subsys.lock);
	nvmet_p2p_ctrl_prune(&q->ctrl);
	mutex_unlock(&q->subsys.lock);
	KUNIT_EXPECT_NULL(test, q->ctrl.p2p.providers[0]);
	KUNIT_EXPECT_PTR_EQ(test, q->ctrl.p2p.providers[1], rig->ivshmem);
	KUNIT_EXPECT_EQ(test, nvmet_p2p_refs(rig->nic), nic_refs);
	KUNIT_EXPECT_EQ(test, nvmet_p2p_refs(rig->ivshmem), shm_refs + 1);
	mutex_lock(&q->subsys.lock);
	nvmet_p2p_ctrl_release(&q->ctrl);
	mutex_unlock(&q->subsys.lock);
	KUNIT_EXPECT_EQ(test, nvmet_p2p_refs(rig->ivshmem), shm_refs);
}

/*
 * Without CONFIG_PCI_P2PDMA the stock map is never set up, even for a
 * transport that names a PCI client (a hardware RDMA device): no stock
 * client kept, no search per namespace (whose stub only logged errors).
 */
static void nvmet_p2p_no_stock_map(struct kunit *test)
{
	struct nvmet_p2p_rig *rig = test->priv;
	struct nvmet_p2p_queue *q = nvmet_p2p_queue(test, &rig->nic->dev);
	unsigned int nic_refs = nvmet_p2p_refs(rig->nic);
	struct nvmet_req req = { .p2p_client = &rig->nic->dev };

	KUNIT_ASSERT_EQ(test, xa_insert(&q->subsys.namespaces, 1, &q->ns,
					GFP_KERNEL), 0);
	q->subsys.nr_namespaces = 1;
	q->ns.use_p2pmem = true;
	mutex_lock(&q->subsys.lock);
	nvmet_setup_p2p_ns_map(&q->ctrl, &req);
	mutex_unlock(&q->subsys.lock);
	KUNIT_EXPECT_NULL(test, q->ctrl.p2p_client);
	KUNIT_EXPECT_EQ(test, nvmet_p2p_refs(rig->nic), nic_refs);
	put_device(q->ctrl.p2p_client);
	xa_destroy(&q->subsys.namespaces);
}

/* @req gets no p2p memory (given back if it did). */
static void nvmet_p2p_expect_no_p2p(struct kunit *test, struct nvmet_req *req)
{
	bool got = nvmet_p2p_alloc_sgls(req);

	KUNIT_EXPECT_FALSE(test, got);
	if (got)
		nvmet_p2p_free_sgls(req);
}

static u8 nvmet_p2p_mdts_8(const struct nvmet_ctrl *ctrl)
{
	return 8;	/* nvmet-rdma's: 1 MiB */
}

static const struct nvmet_fabrics_ops nvmet_p2p_rdma_like_ops = {
	.get_mdts = nvmet_p2p_mdts_8,
};

/*
 * A command of @len bytes on an I/O queue of an RDMA-like transport whose
 * provider is @provider, for a file namespace (no drive) with p2pmem 1.
 * Its counters are in req->port->p2p.
 */
static struct nvmet_req *nvmet_p2p_command(struct kunit *test,
					   struct pci_dev *provider, u32 len)
{
	struct nvmet_p2p_rig *rig = test->priv;
	struct nvmet_p2p_queue *q = nvmet_p2p_queue(test, &rig->nic->dev);
	struct nvmet_req *req = kunit_kzalloc(test, sizeof(*req), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, req);
	req->port = kunit_kzalloc(test, sizeof(*req->port), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, req->port);
	q->ctrl.ops = &nvmet_p2p_rdma_like_ops;
	q->sq.p2p.provider = provider;
	q->ns.use_p2pmem = true;
	req->sq = &q->sq;
	req->ns = &q->ns;
	req->transfer_len = len;
	return req;
}

/*
 * A command longer than the transport's MDTS gets no p2p memory: buffers
 * are taken before commands are validated, and a remote host must not
 * drain the provider with such lengths.
 */
static void nvmet_p2p_oversize(struct kunit *test)
{
	struct nvmet_p2p_rig *rig = test->priv;
	struct nvmet_req *req = nvmet_p2p_command(test, rig->ivshmem, SZ_16M);
	struct nvmet_p2p_port *counts = &req->port->p2p;

	nvmet_p2p_expect_no_p2p(test, req);
	KUNIT_EXPECT_EQ(test, atomic64_read(&counts->fallback_oversize), 1);
	KUNIT_EXPECT_NULL(test, req->sg);
	KUNIT_EXPECT_EQ(test, atomic64_read(&counts->ios), 0);

	/* 1 MiB is no oversize: it goes on to the namespace, a file here. */
	req->transfer_len = SZ_1M;
	nvmet_p2p_expect_no_p2p(test, req);
	KUNIT_EXPECT_EQ(test, atomic64_read(&counts->fallback_oversize), 1);
	KUNIT_EXPECT_EQ(test, atomic64_read(&counts->fallback_namespace), 1);
}

/*
 * A queue whose provider is gone (here the NIC, which publishes nothing)
 * falls back at once, counted as exhausted: no verdict is walked for it,
 * not even the namespace's.
 */
static void nvmet_p2p_gone_provider(struct kunit *test)
{
	struct nvmet_p2p_rig *rig = test->priv;
	struct nvmet_req *req = nvmet_p2p_command(test, rig->nic, SZ_64K);
	struct nvmet_p2p_port *counts = &req->port->p2p;

	nvmet_p2p_expect_no_p2p(test, req);
	KUNIT_EXPECT_EQ(test, atomic64_read(&counts->fallback_exhausted), 1);
	KUNIT_EXPECT_EQ(test, atomic64_read(&counts->fallback_namespace), 0);
	KUNIT_EXPECT_EQ(test, atomic64_read(&counts->fallback_client), 0);
}

static struct kunit_case nvmet_p2p_cases[] = {
	KUNIT_CASE(nvmet_p2p_parse_bools),
	KUNIT_CASE(nvmet_p2p_parse_refused),
	KUNIT_CASE(nvmet_p2p_parse_pin),
	KUNIT_CASE(nvmet_p2p_clients_of_queue),
	KUNIT_CASE(nvmet_p2p_pinned_provider),
	KUNIT_CASE(nvmet_p2p_found_provider),
	KUNIT_CASE(nvmet_p2p_ctrl_providers),
	KUNIT_CASE(nvmet_p2p_ctrl_pruned),
	KUNIT_CASE(nvmet_p2p_no_stock_map),
	KUNIT_CASE(nvmet_p2p_oversize),
	KUNIT_CASE(nvmet_p2p_gone_provider),
	{}
};

static struct kunit_suite nvmet_p2p_suite = {
	.name = "nvmet_p2p",
	.init = nvmet_p2p_suite_init,
	.exit = nvmet_p2p_suite_exit,
	.test_cases = nvmet_p2p_cases,
};

kunit_test_suite(nvmet_p2p_suite);

MODULE_DESCRIPTION("KUnit suite of nvmet-p2p's provider selection");
MODULE_LICENSE("GPL");
