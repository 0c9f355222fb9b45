import Foundation
import NIOPosix
import Testing

@testable import RechargeMessaging

/// Against the smpp34 (PyPI) SMSC started by scripts/start-peers (scripts/peers/smsc.py), which logs every
/// submit_sm it receives and answers with delivery receipts.
@Suite(
    "SMPP against the smpp34 SMSC",
    .enabled(if: PeerEnvironment.smppConfigured, "set by `eval \"$(scripts/start-peers)\"`: RECHARGE_TEST_SMPP …"),
    .serialized)
struct SMPPIntegrationTests {
    struct Submit {
        var pid: Int
        var destination: String
        var esmClass: Int
        var dataCoding: Int
        var shortMessage: [UInt8]
        var answer: String
        var messageID: String?
    }

    static func submits(in log: String, to destination: String) throws -> [Submit] {
        guard let data = FileManager.default.contents(atPath: log) else { return [] }
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            guard record["event"] as? String == "submit_sm", record["destination_addr"] as? String == destination
            else { return nil }
            return Submit(
                pid: record["pid"] as! Int, destination: destination, esmClass: record["esm_class"] as! Int,
                dataCoding: record["data_coding"] as! Int, shortMessage: hexBytes(record["short_message"] as! String),
                answer: record["answer"] as! String, messageID: record["message_id"] as? String)
        }
    }

    static func hexBytes(_ hex: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    func configuration(port: Int? = nil) -> SMPPConfiguration {
        let (host, defaultPort) = PeerEnvironment.smpp!
        var configuration = SMPPConfiguration(
            host: host, port: port ?? defaultPort, systemID: "recharge", password: "secret", sourceAddress: "Recharge")
        configuration.responseTimeout = .seconds(5)
        configuration.bindWaitTimeout = .seconds(20)
        configuration.reconnectBackoff = SMPPBackoff(initial: .milliseconds(100), maximum: .milliseconds(500))
        configuration.throttleBackoff = SMPPBackoff(initial: .milliseconds(50), maximum: .milliseconds(200))
        return configuration
    }

    /// Runs a client for the body and shuts it down afterwards.
    func withClient<T>(
        _ configuration: SMPPConfiguration, reference: UInt8 = 0x2A, _ body: (SMPPClient) async throws -> T
    ) async throws -> T {
        let client = SMPPClient(
            configuration: configuration, group: MultiThreadedEventLoopGroup.singleton,
            firstConcatenationReference: reference)
        let runner = Task { await client.run() }
        do {
            let result = try await body(client)
            await client.shutdown()
            await runner.value
            return result
        } catch {
            await client.shutdown()
            await runner.value
            throw error
        }
    }

    func destination() -> String {
        "86138" + String(UInt32.random(in: 10_000_000...99_999_999))
    }

    /// Receipts from the stream until every id has one, or the timeout.
    func receipts(from client: SMPPClient, for ids: Set<String>, timeout: Duration = .seconds(10)) async
        -> [String: SMPPDeliveryReceipt]
    {
        let stream = client.inbound
        return await withTaskGroup(of: [String: SMPPDeliveryReceipt].self) { group in
            group.addTask {
                var found: [String: SMPPDeliveryReceipt] = [:]
                for await event in stream {
                    if case .deliveryReceipt(let receipt) = event, ids.contains(receipt.messageID) {
                        found[receipt.messageID] = receipt
                        if found.count == ids.count { break }
                    }
                }
                return found
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return [:]
            }
            var best: [String: SMPPDeliveryReceipt] = [:]
            for await result in group {
                if result.count > best.count { best = result }
                if !result.isEmpty || best.count == ids.count { break }
                if result.isEmpty { break }
            }
            group.cancelAll()
            return best
        }
    }

    @Test func longChineseTextGoesOutAsThreeUCS2PartsWithReceipts() async throws {
        let text = String(repeating: "您的充值已成功到账，余额一百元。", count: 9)  // 135 characters
        #expect(SMSText.partCount(for: text) == 3)
        let to = destination()
        let result: (SMPPSubmission, [String: SMPPDeliveryReceipt]) = try await withClient(
            configuration(), reference: 0x9C
        ) { client in
            let submission = try await client.submit(SMSMessage(destination: to, text: text))
            let found = await self.receipts(from: client, for: Set(submission.messageIDs))
            return (submission, found)
        }
        let (submission, receipts) = result
        #expect(submission.messageIDs.count == 3)
        #expect(submission.dataCoding == .ucs2)
        #expect(submission.concatenationReference == 0x9C)

        let log = PeerEnvironment.smppLog!
        let parts = try #require(try await eventually { let s = try Self.submits(in: log, to: to); return s.count == 3 ? s : nil })
        var reassembled: [UInt8] = []
        for (index, part) in parts.enumerated() {
            #expect(part.dataCoding == 8)
            #expect(part.esmClass & 0x40 == 0x40)
            let (header, body) = try #require(ConcatenationHeader.parse(part.shortMessage))
            #expect(Array(part.shortMessage.prefix(3)) == [0x05, 0x00, 0x03])
            #expect(header.reference == 0x9C)
            #expect(header.totalParts == 3)
            #expect(header.partNumber == UInt8(index + 1))
            #expect(body.count <= 134)
            reassembled += body
            #expect(part.messageID == submission.messageIDs[index])
        }
        #expect(SMSText.decode(reassembled, coding: .ucs2) == text)

        #expect(Set(receipts.keys) == Set(submission.messageIDs))
        #expect(receipts.values.allSatisfy { $0.state == SMPPMessageState.delivered && $0.errorCode == "000" })
    }

    @Test func shortGSMTextIsOnePartWithDataCodingZero() async throws {
        let to = destination()
        let text = "Recharge: 100.00 EUR added, valid to 2026-12-23. Reply STOP {help} €"
        let submission = try await withClient(configuration()) { client in
            try await client.submit(SMSMessage(destination: to, text: text))
        }
        #expect(submission.messageIDs.count == 1)
        let log = PeerEnvironment.smppLog!
        let parts = try #require(try await eventually { let s = try Self.submits(in: log, to: to); return s.isEmpty ? nil : s })
        #expect(parts.count == 1)
        #expect(parts[0].dataCoding == 0)
        #expect(parts[0].esmClass & 0x40 == 0)
        #expect(parts[0].shortMessage == GSM7Alphabet.encode(text))
    }

    @Test(arguments: ["999", "998"])
    func throttlingAndQueueFullAreRetriedAfterBackOff(prefix: String) async throws {
        let to = prefix + String(UInt32.random(in: 10_000_000...99_999_999))
        let (submission, statistics): (SMPPSubmission, SMPPClientStatistics) = try await withClient(configuration()) { client in
            let submission = try await client.submit(SMSMessage(destination: to, text: "retry me"))
            return (submission, await client.statistics)
        }
        #expect(submission.messageIDs.count == 1)
        #expect(statistics.backOffResponses == 1)
        let answers = try Self.submits(in: PeerEnvironment.smppLog!, to: to).map(\.answer)
        #expect(answers == [prefix == "999" ? "ESME_RTHROTTLED" : "ESME_RMSGQFUL", "ESME_ROK"])
    }

    @Test func refusedDestinationIsAPermanentTypedError() async throws {
        let to = "888" + String(UInt32.random(in: 10_000_000...99_999_999))
        let error = try await withClient(configuration()) { client in
            try await #require(throws: SMPPError.self) {
                try await client.submit(SMSMessage(destination: to, text: "nobody home"))
            }
        }
        #expect(error == .rejected(status: .invalidDestinationAddress, part: 1))
        #expect(error.isPermanent)
    }

    @Test func windowBoundsOutstandingRequests() async throws {
        var configuration = configuration()
        configuration.windowSize = 4
        configuration.requestDeliveryReceipts = false
        let to = destination()
        let statistics = try await withClient(configuration) { client in
            try await withThrowingTaskGroup(of: SMPPSubmission.self) { group in
                for index in 0..<40 {
                    group.addTask { try await client.submit(SMSMessage(destination: to, text: "burst \(index)")) }
                }
                for try await submission in group { #expect(submission.messageIDs.count == 1) }
            }
            return await client.statistics
        }
        #expect(statistics.acceptedParts == 40)
        #expect(statistics.mostOutstanding <= 4)
        #expect(statistics.mostOutstanding >= 2)
        #expect(try Self.submits(in: PeerEnvironment.smppLog!, to: to).count == 40)
    }

    @Test func enquireLinkKeepsTheLinkAlive() async throws {
        var configuration = configuration()
        configuration.enquireLinkInterval = .milliseconds(200)
        // Every 200 ms: three answered keep-alives are due after ~600 ms; under a loaded test run, wait up to 10 s
        // for them (the bind must stay the first and only one throughout).
        let statistics = try await withClient(configuration) { client in
            let deadline = ContinuousClock.now + .seconds(10)
            while await client.statistics.enquireLinksAnswered < 3, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            return await client.statistics
        }
        #expect(statistics.enquireLinksAnswered >= 3)
        #expect(statistics.successfulBinds == 1)
    }

    @Test func reconnectsAfterTheSMSCIsKilledAndSendsThePendingSubmitOnce() async throws {
        let port = try PeerEnvironment.freePort()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("smsc-restart-\(UUID()).jsonl").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        func startSMSC() throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: PeerEnvironment.python!)
            process.arguments = [
                PeerEnvironment.root.appendingPathComponent("scripts/peers/smsc.py").path, "--port", "\(port)",
                "--log", log,
            ]
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            return process
        }
        var smsc = try startSMSC()
        // SIGKILL throughout: a child of the test runner may inherit a mask that blocks SIGTERM.
        defer { if smsc.isRunning { kill(smsc.processIdentifier, SIGKILL) } }

        let to = destination()
        let client = SMPPClient(
            configuration: configuration(port: port), group: MultiThreadedEventLoopGroup.singleton)
        let runner = Task { await client.run() }

        _ = try await client.submit(SMSMessage(destination: to, text: "before the crash"))
        let firstPID = smsc.processIdentifier
        kill(firstPID, SIGKILL)
        smsc.waitUntilExit()
        let dropped = try await eventually { await client.state == .bound ? nil : true }
        #expect(dropped == true)

        let pending = Task { try await client.submit(SMSMessage(destination: to, text: "while it was down")) }
        try await Task.sleep(for: .milliseconds(700))
        smsc = try startSMSC()
        let submission = try await pending.value
        #expect(submission.messageIDs.count == 1)
        let statistics = await client.statistics
        await client.shutdown()
        await runner.value
        kill(smsc.processIdentifier, SIGKILL)
        smsc.waitUntilExit()

        #expect(statistics.successfulBinds == 2)
        #expect(statistics.failedConnectionAttempts >= 1)
        let records = try Self.submits(in: log, to: to)
        let whileDown = records.filter { SMSText.decode($0.shortMessage, coding: .gsm7) == "while it was down" }
        #expect(whileDown.count == 1)
        #expect(whileDown.first?.pid == Int(smsc.processIdentifier))
        #expect(records.filter { $0.pid == Int(firstPID) }.count == 1)
    }
}
