//! Lambda's SQS event source mapping, played by the test on moto: receive a batch from a real
//! queue as Lambda hands it to a function (`ApproximateReceiveCount`, `AWSTraceHeader`, the
//! message's ids), then delete what the function's partial batch response acknowledged, leaving
//! the rest to come back after the queue's visibility timeout.

use std::collections::{BTreeSet, HashMap};

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};

use crate::TestResult;
use crate::aws::unique;

/// A queue on moto and the mapping's view of it.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// SQS on moto.
    pub sqs: aws_sdk_sqs::Client,
    /// The queue's URL.
    pub queue_url: String,
}

/// One received batch: the event Lambda would hand over, and each message's receipt handle.
#[derive(Debug)]
pub struct Received {
    /// The function's input.
    pub event: SqsEvent,
    /// Message id → receipt handle, to delete it.
    pub receipts: HashMap<String, String>,
}

impl Mapping {
    /// A fresh queue whose messages come back `visibility_seconds` after a receive.
    ///
    /// # Errors
    /// Any SDK error from moto.
    pub async fn new(sqs: aws_sdk_sqs::Client, prefix: &str, visibility_seconds: u32) -> TestResult<Self> {
        let queue_url = sqs
            .create_queue()
            .queue_name(unique(prefix))
            .attributes(QueueAttributeName::VisibilityTimeout, visibility_seconds.to_string())
            .send()
            .await?
            .queue_url()
            .ok_or("no queue URL")?
            .to_owned();
        Ok(Self { sqs, queue_url })
    }

    /// Sends each body as one message.
    ///
    /// # Errors
    /// Any SDK error from moto.
    pub async fn send(&self, bodies: &[String]) -> TestResult {
        for body in bodies {
            self.sqs
                .send_message()
                .queue_url(&self.queue_url)
                .message_body(body)
                .send()
                .await?;
        }
        Ok(())
    }

    /// Receives up to `max` messages (at most ten, as one receive) as the batch Lambda would
    /// invoke the function with.
    ///
    /// # Errors
    /// Any SDK error from moto.
    pub async fn receive(&self, max: i32) -> TestResult<Received> {
        let output = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await?;
        let mut event = SqsEvent::default();
        let mut receipts = HashMap::new();
        for message in output.messages() {
            let id = message.message_id().unwrap_or_default().to_owned();
            receipts.insert(id.clone(), message.receipt_handle().unwrap_or_default().to_owned());
            let mut record = SqsMessage::default();
            record.message_id = Some(id);
            record.receipt_handle = message.receipt_handle().map(str::to_owned);
            record.body = message.body().map(str::to_owned);
            record.event_source = Some("aws:sqs".to_owned());
            record.attributes = message
                .attributes()
                .map(|attributes| {
                    attributes
                        .iter()
                        .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
                        .collect()
                })
                .unwrap_or_default();
            event.records.push(record);
        }
        Ok(Received { event, receipts })
    }

    /// Deletes what `response` acknowledged (every message of the batch it does not list), as
    /// the event source mapping does; returns the ids left in the queue.
    ///
    /// # Errors
    /// Any SDK error from moto.
    pub async fn settle(&self, received: &Received, response: &SqsBatchResponse) -> TestResult<BTreeSet<String>> {
        let left: BTreeSet<String> = response
            .batch_item_failures
            .iter()
            .map(|failure| failure.item_identifier.clone())
            .collect();
        for (id, receipt) in &received.receipts {
            if !left.contains(id) {
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(receipt)
                    .send()
                    .await?;
            }
        }
        Ok(left)
    }

    /// Messages in the queue, visible or not.
    ///
    /// # Errors
    /// Any SDK error from moto.
    pub async fn depth(&self) -> TestResult<usize> {
        crate::dead_letters::queue_depth(&self.sqs, &self.queue_url)
            .await
            .map(|(visible, hidden)| visible + hidden)
    }
}
