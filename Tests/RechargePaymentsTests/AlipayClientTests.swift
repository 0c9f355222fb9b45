import AsyncHTTPClient
import Crypto
import Foundation
import RechargeTestSupport
@testable import RechargePayments
import Testing
import _CryptoExtras

/// What needs no peer: locating the signed response text, refusals, an unreachable host.
@Suite struct AlipayClientUnitTests {
    @Test func rawResponseObjectIsTheExactTextEvenWithBracesInStrings() throws {
        let body = Array(#"{"alipay_trade_query_response" : {"code":"10000","msg":"a}\"{b","x":{"y":1}},"sign":"c2ln"}"#.utf8)
        let raw = try #require(AlipayClient.rawObject(named: "alipay_trade_query_response", in: body))
        #expect(String(decoding: raw, as: UTF8.self) == #"{"code":"10000","msg":"a}\"{b","x":{"y":1}}"#)
        #expect(AlipayClient.rawObject(named: "alipay_trade_refund_response", in: body) == nil)
    }

    @Test func signedResponseVerifiesAndUnsignedRefusalIsAGatewayError() throws {
        let text = #"{"code":"10000","msg":"Success","qr_code":"https://qr.alipay.com/x"}"#
        let signature = try TestKeys.provider.signature(for: SHA256.hash(data: Data(text.utf8)), padding: .insecurePKCS1v1_5)
        let body = Data(#"{"alipay_trade_precreate_response":\#(text),"sign":"\#(signature.rawRepresentation.base64EncodedString())"}"#.utf8)
        let object = try AlipayClient.verifiedResponse(body: body, method: .precreate, alipayPublicKey: TestKeys.provider.publicKey)
        #expect(object["qr_code"] as? String == "https://qr.alipay.com/x")
        #expect(throws: AlipayAPIError.responseVerification(.noMatchingSignature(.alipay))) {
            _ = try AlipayClient.verifiedResponse(body: body, method: .precreate, alipayPublicKey: TestKeys.stranger.publicKey)
        }
        let unsignedSuccess = Data(#"{"alipay_trade_precreate_response":\#(text)}"#.utf8)
        #expect(throws: AlipayAPIError.responseVerification(.missingField(.alipay, field: "sign"))) {
            _ = try AlipayClient.verifiedResponse(body: unsignedSuccess, method: .precreate, alipayPublicKey: TestKeys.provider.publicKey)
        }
        let refusal = Data(#"{"error_response":{"code":"40002","msg":"Invalid Arguments","sub_code":"isv.invalid-app-id","sub_msg":"无效的AppID参数"}}"#.utf8)
        #expect(throws: AlipayAPIError.gateway(code: "40002", msg: "Invalid Arguments", subCode: "isv.invalid-app-id", subMsg: "无效的AppID参数")) {
            _ = try AlipayClient.verifiedResponse(body: refusal, method: .query, alipayPublicKey: TestKeys.provider.publicKey)
        }
    }

    @Test func bizContentIsCompactJSONInOrder() {
        #expect(AlipayClient.json([("out_trade_no", "R1"), ("subject", "充值 \"x\"/y")])
            == #"{"out_trade_no":"R1","subject":"充值 \"x\"/y"}"#)
    }

    @Test func unreachableHostIsANetworkError() async {
        let client = AlipayClient(
            configuration: .init(
                appID: "2021000000000001", merchantPrivateKey: TestKeys.merchant, alipayPublicKey: TestKeys.provider.publicKey,
                gatewayURL: "http://127.0.0.1:1/gateway.do", requestTimeout: .seconds(1)),
            httpClient: .shared)
        let error = await #expect(throws: AlipayAPIError.self) {
            try await client.query(outTradeNo: "R1")
        }
        switch error {
        case .network?, .timedOut?: break
        default: Issue.record("expected a network error, got \(String(describing: error))")
        }
    }
}

/// The client against `scripts/peers/alipay_gateway.py`, which checks requests and signs answers with
/// python-alipay-sdk's own code.
@Suite(.enabled(
    if: PaymentPeer.isAvailable,
    "skipped: RECHARGE_TEST_PEERS_PYTHON is not set; run eval \"$(scripts/start-peers)\" to test against the SDK-built Alipay gateway"))
struct AlipayClientPeerTests {
    static let appID = "2021000000000001"

    func startGateway() async throws -> GatewayPeer {
        try await GatewayPeer.start(
            script: "alipay_gateway.py",
            arguments: ["--app-id", Self.appID, "--merchant-public-key", "@merchant.pub", "--alipay-private-key", "@alipay.pem"],
            files: ["merchant.pub": GatewayPeer.pem(TestKeys.merchant.publicKey), "alipay.pem": GatewayPeer.pem(TestKeys.provider)])
    }

    func client(
        _ gateway: GatewayPeer, merchantKey: _RSA.Signing.PrivateKey = TestKeys.merchant,
        alipayPublicKey: _RSA.Signing.PublicKey = TestKeys.provider.publicKey
    ) -> AlipayClient {
        AlipayClient(
            configuration: .init(
                appID: Self.appID, merchantPrivateKey: merchantKey, alipayPublicKey: alipayPublicKey,
                notifyURL: "https://recharge.example/webhooks/alipay", gatewayURL: "\(gateway.url)/gateway.do",
                requestTimeout: .seconds(10)),
            httpClient: .shared)
    }

    func tradeNo() -> String { "R\(UUID().uuidString.prefix(12))" }

    /// Runs `body` against a fresh gateway and stops the gateway whatever happens.
    func withGateway(_ body: (GatewayPeer) async throws -> Void) async throws {
        let gateway = try await startGateway()
        do {
            try await body(gateway)
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    @Test func precreateQueryPayQueryRefund() async throws {
        try await withGateway { gateway in
            let alipay = client(gateway)
            let no = tradeNo()
            let created = try await alipay.precreate(outTradeNo: no, totalAmountMinorUnits: 1234, subject: "话费充值 +1 415 555 0100 & more")
            #expect(created.qrCode.hasPrefix("https://qr.alipay.com/"))
            #expect(created.outTradeNo == no)

            let waiting = try await alipay.query(outTradeNo: no)
            #expect(waiting == .init(tradeStatus: "WAIT_BUYER_PAY", totalAmountMinorUnits: 1234, tradeNo: nil))
            #expect(!waiting.isPaid)

            try await gateway.hook("/_test/pay?out_trade_no=\(no)")
            let paid = try await alipay.query(outTradeNo: no)
            #expect(paid.tradeStatus == "TRADE_SUCCESS")
            #expect(paid.totalAmountMinorUnits == 1234)
            #expect(paid.tradeNo != nil)
            #expect(paid.isPaid)

            #expect(try await alipay.refund(outTradeNo: no, refundAmountMinorUnits: 500, outRequestNo: "\(no)-r1").refundFeeMinorUnits == 500)
            // The same out_request_no again refunds nothing more.
            #expect(try await alipay.refund(outTradeNo: no, refundAmountMinorUnits: 500, outRequestNo: "\(no)-r1").refundFeeMinorUnits == 500)
            #expect(try await alipay.refund(outTradeNo: no, refundAmountMinorUnits: 5, outRequestNo: "\(no)-r2").refundFeeMinorUnits == 505)
            let tooMuch = await #expect(throws: AlipayAPIError.self) {
                try await alipay.refund(outTradeNo: no, refundAmountMinorUnits: 1000, outRequestNo: "\(no)-r3")
            }
            #expect(tooMuch?.subCode == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL")
        }
    }

    @Test func unknownTradeIsTradeNotExist() async throws {
        try await withGateway { gateway in
            let error = await #expect(throws: AlipayAPIError.self) {
                try await client(gateway).query(outTradeNo: tradeNo())
            }
            guard case .gateway(let code, _, let subCode, _)? = error else {
                Issue.record("expected a gateway error, got \(String(describing: error))")
                return
            }
            #expect(code == "40004")
            #expect(subCode == "ACQ.TRADE_NOT_EXIST")
        }
    }

    @Test func requestSignedWithAnotherKeyIsRefused() async throws {
        try await withGateway { gateway in
            let error = await #expect(throws: AlipayAPIError.self) {
                try await client(gateway, merchantKey: TestKeys.stranger).precreate(outTradeNo: tradeNo(), totalAmountMinorUnits: 100, subject: "x")
            }
            guard case .gateway(let code, _, let subCode, _)? = error else {
                Issue.record("expected a gateway error, got \(String(describing: error))")
                return
            }
            #expect(code == "40002")
            #expect(subCode == "isv.invalid-signature")
        }
    }

    @Test func noAnswerWithinTheTimeoutIsTimedOut() async throws {
        let silent = try await HTTPRecorder.start(hang: true)
        let alipay = AlipayClient(
            configuration: .init(
                appID: Self.appID, merchantPrivateKey: TestKeys.merchant, alipayPublicKey: TestKeys.provider.publicKey,
                gatewayURL: "\(silent.url)/gateway.do", requestTimeout: .milliseconds(500)),
            httpClient: .shared)
        await #expect(throws: AlipayAPIError.timedOut) {
            try await alipay.query(outTradeNo: tradeNo())
        }
    }

    @Test func tamperedResponseIsNotTrusted() async throws {
        try await withGateway { gateway in
            let alipay = client(gateway)
            let no = tradeNo()
            _ = try await alipay.precreate(outTradeNo: no, totalAmountMinorUnits: 100, subject: "x")
            try await gateway.hook("/_test/tamper?on=1")
            await #expect(throws: AlipayAPIError.responseVerification(.noMatchingSignature(.alipay))) {
                try await alipay.query(outTradeNo: no)
            }
            try await gateway.hook("/_test/tamper?on=0")
            // Signed by the gateway's key, but we hold another public key for Alipay.
            await #expect(throws: AlipayAPIError.responseVerification(.noMatchingSignature(.alipay))) {
                try await client(gateway, alipayPublicKey: TestKeys.stranger.publicKey).query(outTradeNo: no)
            }
            #expect(try await alipay.query(outTradeNo: no).tradeStatus == "WAIT_BUYER_PAY")
        }
    }
}
