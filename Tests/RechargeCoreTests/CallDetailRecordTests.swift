import Foundation
@testable import RechargeCore
import Testing

@Suite("CDR file reading")
struct CallDetailRecordTests {
    func read(_ text: String, chunk: Int = 1_000) throws -> (records: [CallDetailRecord], rejects: [CDRReject]) {
        var reader = try CDRReader(Data(text.utf8))
        var records: [CallDetailRecord] = []
        var rejects: [CDRReject] = []
        while true {
            let next = reader.next(chunk)
            if next.records.isEmpty && next.rejects.isEmpty { break }
            records += next.records
            rejects += next.rejects
        }
        return (records, rejects)
    }

    @Test func goodRowsBecomeTypedRecords() throws {
        let (records, rejects) = try read("""
            record_id,msisdn,service,start,quantity,destination,visited\r
            a1,+14155550100,voice,2026-12-04T21:30:00+08:00,125,+8613800138000,\r
            a2,(415) 555-0100,SMS,2026-12-04T13:30:00.250Z,1,10086,jp\r
            a3,+14155550100,data,2026-12-04T13:30:00Z,1500,,44010\r
            a4,+14155550100,video-call,2026-12-04T13:30:00Z,7,,\r

            """)
        #expect(rejects.isEmpty)
        #expect(records.map(\.recordID) == ["a1", "a2", "a3", "a4"])
        #expect(records.map(\.lineNumber) == [2, 3, 4, 5])
        #expect(records[0].msisdn.e164 == "+14155550100" && records[0].use.destination == "8613800138000" && records[0].quantity == 125)
        #expect(records[0].use.start == Date(timeIntervalSince1970: 1_796_391_000))
        #expect(records[1].use.service == .sms && records[1].use.visitedCountry == "JP" && records[1].use.destination == "10086")
        #expect(records[1].use.start == Date(timeIntervalSince1970: 1_796_391_000.25))
        // A network's MCC names its country.
        #expect(records[2].use.destination == nil && records[2].use.visitedNetwork == "44010" && records[2].use.visitedCountry == "JP")
        #expect(records[3].use.service.id == "video-call" && records[3].use.destination == nil)
    }

    @Test func columnsAreNamedByTheHeaderInAnyOrder() throws {
        let (records, rejects) = try read("""
            quantity,start,service,msisdn,record_id
            60,2026-12-04T13:30:00Z,other-units,+14155550100,b1
            """)
        #expect(rejects.isEmpty && records.count == 1 && records[0].quantity == 60)
    }

    @Test func badRowsAreRejectedWithTheirLineAndReason() throws {
        let (records, rejects) = try read("""
            record_id,msisdn,imsi,service,start,quantity,destination,visited
            ok1,+14155550100,,voice,2026-12-04T13:30:00Z,60,112,
            ,+14155550100,,voice,2026-12-04T13:30:00Z,60,112,
            i1,,460001234567890,voice,2026-12-04T13:30:00Z,60,112,
            d1,+14155550100,,voice,2026-12-04T13:30:00,60,112,
            d2,+14155550100,,voice,2026-02-30T13:30:00Z,60,112,
            q1,+14155550100,,voice,2026-12-04T13:30:00Z,-5,112,
            q2,+14155550100,,voice,2026-12-04T13:30:00Z,1.5,112,
            s1,+14155550100,,Fax Machine,2026-12-04T13:30:00Z,1,112,
            t1,+14155550100,,voice,2026-12-04T13:30:00Z,60,,
            t2,+14155550100,,data,2026-12-04T13:30:00Z,60,112,
            t3,+14155550100,,voice,2026-12-04T13:30:00Z,60,12ab,
            v1,+14155550100,,voice,2026-12-04T13:30:00Z,60,112,Japan
            ok1,+14155550100,,voice,2026-12-04T13:30:00Z,60,112,
            f1,+14155550100,,voice
            "m1"x,+14155550100,,voice,2026-12-04T13:30:00Z,60,112,
            """)
        #expect(records.map(\.recordID) == ["ok1"])
        #expect(rejects.map(\.lineNumber) == Array(3...16))
        #expect(rejects.map(\.reason.code) == ["missing-field", "imsi-not-supported", "invalid-field", "invalid-field", "invalid-field", "invalid-field",
                                               "invalid-field", "missing-field", "invalid-field", "invalid-field", "invalid-field", "duplicate-record-id",
                                               "malformed-row", "malformed-row"])
        #expect(rejects[0].recordID == nil && rejects[1].recordID == "i1")
        #expect(rejects[1].reason.detail.contains("IMSI 460001234567890"))
        #expect(rejects[11].reason == .duplicateRecordID(recordID: "ok1", firstLine: 2))
        #expect(rejects[2].reason.detail.contains("'start'"))
    }

    @Test func quotedFieldsHoldCommasQuotesAndNewlines() throws {
        let (records, rejects) = try read("""
            record_id,msisdn,service,start,quantity,destination,visited
            "x,1",+14155550100,voice,2026-12-04T13:30:00Z,60,112,
            "x ""2""
            continued",+14155550100,voice,2026-12-04T13:30:00Z,60,112,
            x3,+14155550100,voice,2026-12-04T13:30:00Z,60,112,
            """)
        // The quoted field reads whole (a record id may not hold a newline, so that row is rejected), and lines are
        // counted through it: the next record starts on line 5.
        #expect(records.map(\.recordID) == ["x,1", "x3"])
        #expect(records.map(\.lineNumber) == [2, 5])
        #expect(rejects.map(\.lineNumber) == [3] && rejects.first?.recordID == "x \"2\"\ncontinued" && rejects.first?.reason.code == "invalid-field")
    }

    @Test func anUnusableHeaderRejectsTheWholeFile() {
        #expect(throws: CDRFileError.self) { try CDRReader(Data()) }
        #expect(throws: CDRFileError.self) { try CDRReader(Data("record_id,msisdn,service,start\n".utf8)) }
        #expect(throws: CDRFileError.self) { try CDRReader(Data("record_id,msisdn,service,start,quantity,colour\n".utf8)) }
        #expect(throws: CDRFileError.self) { try CDRReader(Data("record_id,service,start,quantity\n".utf8)) }
        #expect(throws: CDRFileError.self) { try CDRReader(Data("record_id,msisdn,msisdn,service,start,quantity\n".utf8)) }
        // A byte-order mark is not part of the first column's name.
        #expect(throws: Never.self) { try CDRReader(Data("\u{FEFF}record_id,msisdn,service,start,quantity\n".utf8)) }
    }

    @Test func readingIsChunked() throws {
        var text = "record_id,msisdn,service,start,quantity,destination,visited\n"
        for index in 0..<10 { text += "r\(index),+14155550100,sms,2026-12-04T13:30:00Z,1,112,\n" }
        var reader = try CDRReader(Data(text.utf8))
        #expect(reader.next(4).records.count == 4)
        #expect(reader.next(4).records.count == 4)
        #expect(reader.next(4).records.count == 2)
        #expect(reader.next(4).records.isEmpty && reader.rowsRead == 10 && reader.bytesRead == reader.byteCount)
    }

    @Test func timestampsNeedAnOffset() {
        #expect(CDRTimestamp.date("2026-12-04T21:30:00+08:00") == CDRTimestamp.date("2026-12-04T13:30:00Z"))
        #expect(CDRTimestamp.date("1970-01-01T00:00:00Z") == Date(timeIntervalSince1970: 0))
        #expect(CDRTimestamp.date("2024-02-29T00:00:00-05:30") == Date(timeIntervalSince1970: 1_709_164_800 + 19_800))
        #expect(CDRTimestamp.date("2026-12-04 13:30:00Z") != nil)
        #expect(CDRTimestamp.date("2026-12-04T13:30:00") == nil)
        #expect(CDRTimestamp.date("2025-02-29T00:00:00Z") == nil)
        #expect(CDRTimestamp.date("2026-13-01T00:00:00Z") == nil)
        #expect(CDRTimestamp.date("2026-12-04T13:30:00+8:00") == nil)
        #expect(CDRTimestamp.date("2026-12-04T13:30:00.Z") == nil)
    }

    @Test func purposeKeysOfRecordsAreTheirOwn() {
        #expect(OperationPurpose.cdrCharge(recordID: 5, revision: 0, number: 1).idempotencyKey == "cdr:5:0:1")
        #expect(OperationPurpose.cdrCharge(recordID: 5, revision: 0, number: 1).idempotencyKey
                != OperationPurpose.usageCharge(requestID: 5, number: 1).idempotencyKey)
        #expect(OperationPurpose.cdrCharge(recordID: 5, revision: 2, number: 1).subjectID == "5")
        #expect(!OperationPurpose.cdrCharge(recordID: 5, revision: 1, number: 1).announcesTopUp)
    }
}
