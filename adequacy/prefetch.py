"""A prefetch hint for the compiled kernels (numba): ask the CPU ahead of time for
memory a loop will read a few steps on.

The graph searches and the walks over their labels are bound by memory latency:
the next node's labels sit anywhere in arrays of hundreds of MB. A kernel that
knows what it will read next asks for it while it works on what it has.

numba caches each kernel by its own file: after editing this one, remove the
``__pycache__`` folders of the modules that use it (``routing/kernels.py``,
``routing/routes.py``, ``network/chain_labels.py``), or their cached kernels keep
the old hint.

Owns: ``prefetch``. Uses: numba and llvmlite (the ``llvm.prefetch`` intrinsic).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def prefetch(typingctx, arr, idx):
    """Ask the CPU to bring ``arr[idx]`` (of a 2-D array: the start of row ``idx``)
    into its caches: a hint, with no effect on results (it never faults, even past
    the array's end)."""
    sig = types.void(arr, idx)

    def codegen(context, builder, signature, args):
        aryty, idxty = signature.args
        ary = context.make_array(aryty)(context, builder, args[0])
        i = context.cast(builder, args[1], idxty, types.intp)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [i], wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        # unsuffixed: LLVM names it for its pointer type (p0i8 or p0) as it reads it
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch")
        # read access, keep in all cache levels, data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return sig, codegen
