"""Speed kernels for training on a CPU: Keras layers with the same variables and math, trained
through other TensorFlow ops, applied by policy (``--kernels``, ``kernels.policy``).

The models are built from Keras' own layers (``models/``); the train step asks ``policy.resolve``
which layer classes to build them from. Each kernel is one module with its equality test beside
it (``tests/kernels/``):

    fused_batch_norm.py  batch norm trained with TensorFlow's fused kernel
    matmul_conv.py       small, wide convolutions trained as matmuls over patches
    policy.py            auto | keras | cpu: where the kernels are used
"""
