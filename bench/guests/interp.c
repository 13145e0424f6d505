// Benchmark guest: a small register-machine bytecode interpreter, a test of switch dispatch
// (br_table), unpredictable branches and small loads.
//
// Built by `cargo xtask testdata` (freestanding wasm32, no libc). Exports `run(i32) -> i32`:
// runs a fixed program whose main loop turns `iterations` times (a pseudo-random generator
// folded into an accumulator, with a data-dependent branch) and returns the accumulator.

enum {
    OP_HALT,
    OP_LOADI, // r[a] = imm
    OP_MOV,   // r[a] = r[b]
    OP_ADD,   // r[a] = r[b] + r[c]
    OP_SUB,   // r[a] = r[b] - r[c]
    OP_MUL,   // r[a] = r[b] * r[c]
    OP_XOR,   // r[a] = r[b] ^ r[c]
    OP_AND,   // r[a] = r[b] & r[c]
    OP_SHRI,  // r[a] = r[b] >> imm (logical)
    OP_ADDI,  // r[a] = r[b] + imm
    OP_JZ,    // if r[a] == 0 goto imm
    OP_JNZ,   // if r[a] != 0 goto imm
    OP_JMP,   // goto imm
};

struct insn {
    unsigned char op, a, b, c;
    int imm;
};

// r0: iterations left, r1: state, r2: accumulator, r3..r5: temporaries, r6: multiplier,
// r7: mask.
static const struct insn program[] = {
    /* 0 */ {OP_LOADI, 1, 0, 0, 12345},
    /* 1 */ {OP_LOADI, 2, 0, 0, 0},
    /* 2 */ {OP_LOADI, 6, 0, 0, 1103515245},
    /* 3 */ {OP_LOADI, 7, 0, 0, 1},
    /* 4 */ {OP_JZ, 0, 0, 0, 17},
    /* 5 */ {OP_MUL, 1, 1, 6, 0},
    /* 6 */ {OP_ADDI, 1, 1, 0, 12345},
    /* 7 */ {OP_SHRI, 3, 1, 0, 16},
    /* 8 */ {OP_AND, 4, 3, 7, 0},
    /* 9 */ {OP_JNZ, 4, 0, 0, 13},
    /* 10 */ {OP_ADD, 2, 2, 3, 0},
    /* 11 */ {OP_ADDI, 0, 0, 0, -1},
    /* 12 */ {OP_JMP, 0, 0, 0, 4},
    /* 13 */ {OP_XOR, 2, 2, 3, 0},
    /* 14 */ {OP_MOV, 5, 2, 0, 0},
    /* 15 */ {OP_SUB, 2, 5, 4, 0},
    /* 16 */ {OP_JMP, 0, 0, 0, 11},
    /* 17 */ {OP_HALT, 2, 0, 0, 0},
};

static unsigned regs[8];

static unsigned execute(const struct insn *code, unsigned iterations) {
    for (int i = 0; i < 8; i++) {
        regs[i] = 0;
    }
    regs[0] = iterations;
    int pc = 0;
    for (;;) {
        const struct insn *in = &code[pc++];
        switch (in->op) {
        case OP_HALT:
            return regs[in->a];
        case OP_LOADI:
            regs[in->a] = (unsigned)in->imm;
            break;
        case OP_MOV:
            regs[in->a] = regs[in->b];
            break;
        case OP_ADD:
            regs[in->a] = regs[in->b] + regs[in->c];
            break;
        case OP_SUB:
            regs[in->a] = regs[in->b] - regs[in->c];
            break;
        case OP_MUL:
            regs[in->a] = regs[in->b] * regs[in->c];
            break;
        case OP_XOR:
            regs[in->a] = regs[in->b] ^ regs[in->c];
            break;
        case OP_AND:
            regs[in->a] = regs[in->b] & regs[in->c];
            break;
        case OP_SHRI:
            regs[in->a] = regs[in->b] >> in->imm;
            break;
        case OP_ADDI:
            regs[in->a] = regs[in->b] + (unsigned)in->imm;
            break;
        case OP_JZ:
            if (regs[in->a] == 0) {
                pc = in->imm;
            }
            break;
        case OP_JNZ:
            if (regs[in->a] != 0) {
                pc = in->imm;
            }
            break;
        case OP_JMP:
            pc = in->imm;
            break;
        default:
            return 0xdeadbeef;
        }
    }
}

// Read through a volatile pointer so that the compiler cannot specialise `execute` on the
// constant program (that would compile the bytecode away).
static const struct insn *volatile program_ptr = program;

__attribute__((export_name("run"))) int run(int iterations) {
    return (int)execute(program_ptr, (unsigned)iterations);
}
