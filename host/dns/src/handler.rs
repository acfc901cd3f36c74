//! The hickory `RequestHandler`: request checks, EDNS echo, response header, UDP limits, sending.

use hickory_proto::op::{Edns, Header, HeaderCounts, Metadata, OpCode, ResponseCode};
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tracing::warn;

use crate::lookup::{Answer, Resolver};
use crate::truncate;

/// Serves the Consul DNS grammar over one zone.
pub(crate) struct ConsulDns {
    pub resolver: Resolver,
    pub udp_answer_limit: usize,
}

impl ConsulDns {
    async fn answer(&self, request: &Request) -> Answer {
        if request.metadata.op_code != OpCode::Query {
            return Answer::error(ResponseCode::NotImp, false);
        }
        match request.request_info() {
            Ok(info) => {
                let query = info.query.original();
                self.resolver
                    .resolve(query.name(), query.query_type(), query.query_class())
                    .await
            }
            // Zero or several questions.
            Err(_) => Answer::error(ResponseCode::FormErr, false),
        }
    }
}

#[async_trait::async_trait]
impl RequestHandler for ConsulDns {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response: R,
    ) -> ResponseInfo {
        // hickory does not copy EDNS into the response; without it UDP replies are capped at 512 bytes.
        let edns = request.edns.as_ref().map(|req| {
            let mut edns = Edns::new();
            edns.set_max_payload(req.max_payload());
            edns
        });

        let mut answer = self.answer(request).await;
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = answer.authoritative;
        metadata.response_code = answer.rcode;
        if request.protocol() == Protocol::Udp {
            metadata.truncation = truncate::fit_udp(
                &mut answer,
                &request.queries,
                edns.as_ref(),
                &metadata,
                self.udp_answer_limit,
            );
        }

        let mut builder = MessageResponseBuilder::new(&request.queries, None);
        if let Some(edns) = edns.as_ref() {
            builder.edns(edns);
        }
        let message = builder.build(
            metadata,
            answer.answers.iter(),
            answer.authorities.iter(),
            std::iter::empty(),
            answer.additionals.iter(),
        );
        match response.send_response(message).await {
            Ok(info) => info,
            Err(error) => {
                warn!(%error, src = %request.src(), "failed to send DNS response");
                let mut metadata = Metadata::response_from_request(&request.metadata);
                metadata.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header {
                    metadata,
                    counts: HeaderCounts::default(),
                })
            }
        }
    }
}
