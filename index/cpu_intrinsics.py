"""CPU instructions that numba does not expose, as LLVM intrinsics for compiled loops.

Each is one instruction where the CPU has it (LLVM lowers it to a portable sequence where it does
not), so the loops that use them stay exact and portable: popcount and trailing zeros count bits
of 64-bit words, and a prefetch is only a hint (it never faults and returns nothing).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def popcount(typingctx, word):
    """The number of set bits of a 64-bit word."""
    signature = types.uint64(types.uint64)

    def codegen(context, builder, sig, args):
        ctpop = builder.module.declare_intrinsic("llvm.ctpop", [ir.IntType(64)])
        return builder.call(ctpop, args)

    return signature, codegen


@intrinsic
def trailing_zeros(typingctx, word):
    """The index of the lowest set bit of a non-zero 64-bit word (64 for zero)."""
    signature = types.uint64(types.uint64)

    def codegen(context, builder, sig, args):
        cttz = builder.module.declare_intrinsic("llvm.cttz", [ir.IntType(64), ir.IntType(1)])
        return builder.call(cttz, [args[0], ir.Constant(ir.IntType(1), 0)])

    return signature, codegen


@intrinsic
def prefetch(typingctx, matrix, row, col):
    """Start loading the cache line of matrix[row, col] (a 2-d array) so that a later read finds it
    there: for rows read in a known order whose reads are too sparse for the CPU to foresee."""
    signature = types.void(matrix, row, col)

    def codegen(context, builder, sig, args):
        array_type = sig.args[0]
        array = context.make_array(array_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer(context, builder, array_type, array, [args[1], args[2]])
        byte_pointer = builder.bitcast(pointer, ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        function = builder.module.declare_intrinsic(
            "llvm.prefetch", [byte_pointer.type], ir.FunctionType(ir.VoidType(), [byte_pointer.type, i32, i32, i32]))
        # read (0), keep in every cache level (3), data cache (1)
        builder.call(function, [byte_pointer, ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return signature, codegen
