/// The mask penalty of ISO/IEC 18004:2015 7.8.3 (Table 11), computed on bit lines a whole row or column at a time
/// instead of module by module:
///
/// - N1, runs of five or more same-coloured modules in a row or column: 3 + (length − 5) each. With `same` = modules
///   equal to their right neighbour, `five` = start of five equal modules; a run of length L has L − 4 `five` bits
///   and one of them starts the run, so the run scores popcount(five) + 2 × popcount(run starts).
/// - N2, 2 × 2 blocks of one colour: 3 each (overlapping blocks each count).
/// - N3, dark-light-dark-dark-dark-light-dark (1:1:3:1:1) with four light modules before or after it (outside the
///   symbol counts as light): 40 each.
/// - N4, the dark proportion: 10 for every full 5 % away from 50 %.
///
/// Lines are `UInt64` for sizes up to 60 (versions 1–10) and three words above that; see ``QRTemplate``.
enum QRPenalty {
    static func score(rows: UnsafePointer<UInt64>, columns: UnsafePointer<UInt64>, size: Int, stride: Int) -> Int {
        stride == 1
            ? score(UInt64.self, rows: rows, columns: columns, size: size)
            : score(QRWideLine.self, rows: rows, columns: columns, size: size)
    }

    @inline(__always)
    static func score<Line: QRLine>(_: Line.Type, rows: UnsafePointer<UInt64>, columns: UnsafePointer<UInt64>, size: Int) -> Int {
        let stride = Line.wordCount
        let neighbours = Line.lowBits(size - 1)
        var runsAndFinders = 0
        var blocks = 0
        var dark = 0
        var previousRow = Line(rows)
        var previousSame = ~(previousRow ^ previousRow.down(1)) & neighbours
        runsAndFinders &+= lineScore(previousRow, same: previousSame)
        dark &+= previousRow.population
        for y in 1..<size {
            let row = Line(rows + y * stride)
            let same = ~(row ^ row.down(1)) & neighbours
            runsAndFinders &+= lineScore(row, same: same)
            dark &+= row.population
            blocks &+= (same & previousSame & ~(row ^ previousRow)).population
            previousRow = row
            previousSame = same
        }
        for x in 0..<size {
            let column = Line(columns + x * stride)
            runsAndFinders &+= lineScore(column, same: ~(column ^ column.down(1)) & neighbours)
        }
        let total = size * size
        let proportion = abs(dark * 20 - total * 10) / total
        return runsAndFinders + blocks * 3 + proportion * 10
    }

    /// N1 + N3 of one line. `same` has bit i set when modules i and i + 1 (both inside the symbol) are alike.
    @inline(__always)
    static func lineScore<Line: QRLine>(_ line: Line, same: Line) -> Int {
        let five = same & same.down(1) & same.down(2) & same.down(3)
        var score = 0
        if !five.isZero {
            score = five.population + 2 * (five & ~same.up(1)).population
        }
        let light = ~line
        let core = line & light.down(1) & line.down(2) & line.down(3) & line.down(4) & light.down(5) & line.down(6)
        if !core.isZero {
            let light2 = light & light.down(1)
            let after = (light2 & light2.down(2)).down(7)
            let before2 = light.upFillingOnes(1) & light.upFillingOnes(2)
            let before = before2 & before2.upFillingOnes(2)
            score += 40 * (core & (before | after)).population
        }
        return score
    }
}

/// A row or column of modules as bits, bit i = module i, dark = 1; bits past the symbol are 0 (light).
protocol QRLine {
    static var wordCount: Int { get }
    init(_ words: UnsafePointer<UInt64>)
    static func lowBits(_ count: Int) -> Self
    static func & (lhs: Self, rhs: Self) -> Self
    static func | (lhs: Self, rhs: Self) -> Self
    static func ^ (lhs: Self, rhs: Self) -> Self
    static prefix func ~ (operand: Self) -> Self
    /// Module i + k moved to position i (k in 1 ... 63).
    func down(_ k: Int) -> Self
    /// Module i − k moved to position i, 0 shifted in.
    func up(_ k: Int) -> Self
    /// Module i − k moved to position i, 1 shifted in (light outside the symbol, for the light complement).
    func upFillingOnes(_ k: Int) -> Self
    var population: Int { get }
    var isZero: Bool { get }
}

extension UInt64: QRLine {
    static var wordCount: Int { 1 }
    @inline(__always) init(_ words: UnsafePointer<UInt64>) { self = words.pointee }
    @inline(__always) static func lowBits(_ count: Int) -> UInt64 { count >= 64 ? ~0 : (1 &<< UInt64(count)) &- 1 }
    @inline(__always) func down(_ k: Int) -> UInt64 { self &>> UInt64(k) }
    @inline(__always) func up(_ k: Int) -> UInt64 { self &<< UInt64(k) }
    @inline(__always) func upFillingOnes(_ k: Int) -> UInt64 { self &<< UInt64(k) | ((1 &<< UInt64(k)) &- 1) }
    @inline(__always) var population: Int { nonzeroBitCount }
    @inline(__always) var isZero: Bool { self == 0 }
}

/// Three words: lines of up to 192 bits (size 177 plus the 11 bits the finder rule looks past the end).
struct QRWideLine: QRLine {
    var low: UInt64, middle: UInt64, high: UInt64

    static var wordCount: Int { 3 }
    @inline(__always) init(low: UInt64, middle: UInt64, high: UInt64) {
        self.low = low
        self.middle = middle
        self.high = high
    }
    @inline(__always) init(_ words: UnsafePointer<UInt64>) { self.init(low: words[0], middle: words[1], high: words[2]) }
    @inline(__always) static func lowBits(_ count: Int) -> QRWideLine {
        QRWideLine(low: UInt64.lowBits(count), middle: UInt64.lowBits(max(0, count - 64)), high: UInt64.lowBits(max(0, count - 128)))
    }
    @inline(__always) static func & (lhs: Self, rhs: Self) -> Self {
        Self(low: lhs.low & rhs.low, middle: lhs.middle & rhs.middle, high: lhs.high & rhs.high)
    }
    @inline(__always) static func | (lhs: Self, rhs: Self) -> Self {
        Self(low: lhs.low | rhs.low, middle: lhs.middle | rhs.middle, high: lhs.high | rhs.high)
    }
    @inline(__always) static func ^ (lhs: Self, rhs: Self) -> Self {
        Self(low: lhs.low ^ rhs.low, middle: lhs.middle ^ rhs.middle, high: lhs.high ^ rhs.high)
    }
    @inline(__always) static prefix func ~ (operand: Self) -> Self { Self(low: ~operand.low, middle: ~operand.middle, high: ~operand.high) }
    @inline(__always) func down(_ k: Int) -> Self {
        let s = UInt64(k), t = UInt64(64 - k)
        return Self(low: low &>> s | middle &<< t, middle: middle &>> s | high &<< t, high: high &>> s)
    }
    @inline(__always) func up(_ k: Int) -> Self {
        let s = UInt64(k), t = UInt64(64 - k)
        return Self(low: low &<< s, middle: middle &<< s | low &>> t, high: high &<< s | middle &>> t)
    }
    @inline(__always) func upFillingOnes(_ k: Int) -> Self {
        var result = up(k)
        result.low |= (1 &<< UInt64(k)) &- 1
        return result
    }
    @inline(__always) var population: Int { low.nonzeroBitCount + middle.nonzeroBitCount + high.nonzeroBitCount }
    @inline(__always) var isZero: Bool { low | middle | high == 0 }
}
