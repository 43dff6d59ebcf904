// Follows onetrip's approval events as another campus system would: Node.js and amqplib, with
// the read-only `campus` credentials of the bus, nothing of onetrip's own code.
//
//   ONETRIP_AMQP_URL=amqp://campus:<password>@127.0.0.1:5672/ node consume.js
//
// It binds a durable queue of its own (the campus user may only name queues `campus.*`) to the
// topic exchange `approval.events`, and prints one line per event: when, which case, what
// happened, in words. The envelope and every event's data are described in the AsyncAPI document
// (GET /api/v1/asyncapi.json); this reader needs only the envelope and a few data fields.
"use strict";

const amqp = require("amqplib");

const URL = process.env.ONETRIP_AMQP_URL || "amqp://campus:campus@127.0.0.1:5672/";
const QUEUE = process.env.ONETRIP_CAMPUS_QUEUE || "campus.node-consumer";
const EXCHANGE = "approval.events";
const READS_SCHEMA_VERSION = 1;

const DECISIONS = { approve: "通过", return: "退回", reject: "不予通过" };

// What each event means for the applicant, in a few words. An event this reader does not know
// is still printed by its type: new event types are an additive change of the contract.
const SAYS = {
  case_submitted: (d) => `${d.applicant} 申请「${d.item_name}」`,
  case_intake_rejected: (d) => `材料不全: ${(d.missing_materials || []).join("、")}`,
  node_opened: (d) => `${d.department} 开始审批`,
  node_decided: (d) => `${d.department} ${DECISIONS[d.decision] || d.decision}${d.comment ? `: ${d.comment}` : ""}`,
  node_cancelled: (d) => `${d.department} 的审批取消`,
  node_overdue: (d) => `${d.department} 审批超时`,
  case_returned: () => "退回申请人修改",
  case_resubmitted: (d) => `申请人重新提交(第 ${d.round} 轮)`,
  case_approved: () => "办理成功",
  case_rejected: () => "不予通过",
  case_withdrawn: () => "申请人撤回",
  case_urged: () => "申请人催办",
  trip_recorded: (d) => `登记跑动一次${d.purpose ? `: ${d.purpose}` : ""}`,
  case_rated: (d) => `申请人评价 ${d.score} 分`,
};

function describe(event) {
  const data = event.data || {};
  const say = SAYS[event.type];
  return say ? say(data) : event.type;
}

function line(event) {
  const data = event.data || {};
  const caseNo = data.case_no ? ` ${data.case_no}` : "";
  return `${event.occurred_at} case=${event.aggregate_id}${caseNo} type=${event.type} ${describe(event)}`;
}

async function main() {
  const connection = await amqp.connect(URL);
  const channel = await connection.createChannel();
  await channel.checkExchange(EXCHANGE); // the campus user may bind to it, never declare it
  await channel.assertQueue(QUEUE, { durable: true, arguments: { "x-queue-type": "quorum" } });
  await channel.bindQueue(QUEUE, EXCHANGE, "#");
  await channel.prefetch(1); // one at a time: a case's events in the order they were published
  console.log(`following ${EXCHANGE} on ${QUEUE}`);
  await channel.consume(QUEUE, (message) => {
    if (message === null) return; // the broker cancelled the consumer
    let event;
    try {
      event = JSON.parse(message.content.toString("utf8"));
    } catch (error) {
      console.error(`not JSON, skipped: ${error.message}`);
      channel.ack(message);
      return;
    }
    if (event.schema_version > READS_SCHEMA_VERSION) {
      // A breaking change raises schema_version; this reader keeps to the fields it knows.
      console.error(`schema_version ${event.schema_version} of ${event.type}: reading it as version ${READS_SCHEMA_VERSION}`);
    }
    console.log(line(event));
    channel.ack(message);
  });
  const stop = async () => {
    await channel.close().catch(() => {});
    await connection.close().catch(() => {});
    process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((error) => {
  console.error(`onetrip node consumer: ${error.message}`);
  process.exit(1);
});
