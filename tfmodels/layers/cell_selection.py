"""TAPAS's cell-selection head: which table cells answer a question.

Each token gets a logit (a dot product with `output_weights`, divided by
`temperature`); with `select_one_column`, each column gets a logit too (the
token logits of `column_output_weights`, averaged per cell, then over the
column's cells), and the returned logits keep only the cells of the most
likely column, each cell's tokens sharing the cell's mean logit.

Size glossary: B batch, T seq_len, D hidden_size, R `max_num_rows`,
C `max_num_columns`.

References:
    Herzig et al., "TaPas: Weakly Supervised Table Parsing via
    Pre-training", ACL 2020. Parity reference:
    `transformers.models.tapas.modeling_tapas` (`compute_token_logits`,
    `compute_column_logits`, the logits of `_single_column_cell_selection_loss`).
"""

import keras
from keras import ops

from tfmodels.layers import segmented

# The reference's "log of zero" for masked columns and cells, and its division guard.
CLOSE_ENOUGH_TO_LOG_ZERO = -10000.0
EPSILON_ZERO_DIVISION = 1e-10


class TableIndex:
    """The row, column and cell `IndexMap`s of a batch of flattened tables.

    Args:
        row_ids, column_ids: int tensors `(B, T)`, 0 for question tokens and
            headers (row 0) / for tokens outside the table (column 0); ids past
            the table size are clipped to `max_num_rows - 1` / `max_num_columns - 1`.
        max_num_rows, max_num_columns: ints, `R` and `C`.

    Attributes:
        row_index, column_index: `IndexMap`s over `R` rows / `C` columns.
        cell_index: `ProductIndexMap` (rows outer, columns inner) over `R * C` cells.
    """

    def __init__(self, row_ids, column_ids, max_num_rows, max_num_columns):
        row_ids = ops.minimum(ops.cast(row_ids, "int32"), max_num_rows - 1)
        column_ids = ops.minimum(ops.cast(column_ids, "int32"), max_num_columns - 1)
        self.row_index = segmented.IndexMap(row_ids, max_num_rows, batch_dims=1)
        self.column_index = segmented.IndexMap(column_ids, max_num_columns, batch_dims=1)
        self.cell_index = segmented.ProductIndexMap(self.row_index, self.column_index)

    def cell_mask(self, attention_mask):
        """float32 `(B, R * C)`: 1 for cells with at least one attended token (the mean of the mask per cell)."""
        return segmented.reduce_mean(ops.cast(attention_mask, "float32"), self.cell_index)[0]


@keras.saving.register_keras_serializable(package="tfmodels")
class CellSelectionHead(keras.layers.Layer):
    """Token and column logits of TAPAS's cell selection.

    Args:
        temperature: float, divides the token logits.
        select_one_column: bool, compute column logits and restrict the
            selection to the most likely column.
        allow_empty_column_selection: bool, whether column 0 ("no column")
            may be selected.
        initializer_range: float, stddev of the normal initialiser of the
            two weight vectors.
        zero_init: bool, initialise the weight vectors to zero
            (`init_cell_selection_weights_to_zero`).
        **kwargs: base layer arguments.

    Weights: `output_weights (D,)`, `output_bias ()`, `column_output_weights (D,)`,
    `column_output_bias ()` (the reference's parameter names).
    """

    def __init__(self, temperature=1.0, select_one_column=True, allow_empty_column_selection=False,
                 initializer_range=0.02, zero_init=False, **kwargs):
        super().__init__(**kwargs)
        self.temperature = temperature
        self.select_one_column = select_one_column
        self.allow_empty_column_selection = allow_empty_column_selection
        self.initializer_range = initializer_range
        self.zero_init = zero_init

    def build(self, input_shape):
        hidden = input_shape[-1]
        init = "zeros" if self.zero_init else keras.initializers.RandomNormal(stddev=self.initializer_range)
        self.output_weights = self.add_weight(name="output_weights", shape=(hidden,), initializer=init)
        self.output_bias = self.add_weight(name="output_bias", shape=(), initializer="zeros")
        self.column_output_weights = self.add_weight(name="column_output_weights", shape=(hidden,),
                                                     initializer=init)
        self.column_output_bias = self.add_weight(name="column_output_bias", shape=(), initializer="zeros")
        self.built = True

    def token_logits(self, hidden_states):
        """float32 `(B, T)`: `(hidden . output_weights + output_bias) / temperature`."""
        hidden_states = ops.cast(hidden_states, "float32")
        logits = ops.einsum("bsj,j->bs", hidden_states, ops.cast(self.output_weights, "float32"))
        return (logits + ops.cast(self.output_bias, "float32")) / self.temperature

    def column_logits(self, hidden_states, table, cell_mask):
        """float32 `(B, C)`: column token logits averaged per cell, then over each column's existing cells.

        Columns without cells (except column 0) get `CLOSE_ENOUGH_TO_LOG_ZERO`
        added, and column 0 too unless `allow_empty_column_selection`.
        """
        hidden_states = ops.cast(hidden_states, "float32")
        token_logits = ops.einsum("bsj,j->bs", hidden_states, ops.cast(self.column_output_weights, "float32"))
        token_logits = token_logits + ops.cast(self.column_output_bias, "float32")
        cell_logits, cell_logits_index = segmented.reduce_mean(token_logits, table.cell_index)  # (B, R * C)
        column_index = table.cell_index.project_inner(cell_logits_index)
        column_logits, out_index = segmented.reduce_sum(cell_logits * cell_mask, column_index)  # (B, C)
        cell_count, _ = segmented.reduce_sum(cell_mask, column_index)
        column_logits = column_logits / (cell_count + EPSILON_ZERO_DIVISION)
        is_column_zero = ops.equal(out_index.indices, 0)
        is_padding = ops.logical_and(cell_count < 0.5, ops.logical_not(is_column_zero))
        column_logits = column_logits + CLOSE_ENOUGH_TO_LOG_ZERO * ops.cast(is_padding, "float32")
        if not self.allow_empty_column_selection:
            column_logits = column_logits + CLOSE_ENOUGH_TO_LOG_ZERO * ops.cast(is_column_zero, "float32")
        return column_logits

    def call(self, hidden_states, table, attention_mask):
        """Returns `(token_logits (B, T), column_logits (B, C) or None, cell_mask (B, R * C))`, float32."""
        cell_mask = table.cell_mask(attention_mask)
        column_logits = self.column_logits(hidden_states, table, cell_mask) if self.select_one_column else None
        return self.token_logits(hidden_states), column_logits, cell_mask

    def get_config(self):
        return {
            **super().get_config(),
            "temperature": self.temperature,
            "select_one_column": self.select_one_column,
            "allow_empty_column_selection": self.allow_empty_column_selection,
            "initializer_range": self.initializer_range,
            "zero_init": self.zero_init,
        }


def single_column_logits(token_logits, column_logits, table, cell_mask):
    """Token logits restricted to the most likely column: `(B, T)` float32.

    Every token gets its cell's mean logit; cells outside the column of the
    largest `column_logits`, cells of column 0 and cells without attended
    tokens get `CLOSE_ENOUGH_TO_LOG_ZERO` added (probability ~0).
    """
    logits_per_cell, cell_logits_index = segmented.reduce_mean(token_logits, table.cell_index)  # (B, R * C)
    column_id_for_cells = table.cell_index.project_inner(cell_logits_index).indices
    selected_column_id = ops.cast(ops.argmax(column_logits, axis=-1), "int32")  # (B,)
    selected = ops.cast(ops.equal(column_id_for_cells, selected_column_id[:, None]), "float32")
    selected = ops.where(ops.equal(column_id_for_cells, 0), ops.zeros_like(selected), selected)
    new_logits_per_cell = logits_per_cell + CLOSE_ENOUGH_TO_LOG_ZERO * (1.0 - cell_mask * selected)
    return segmented.gather(new_logits_per_cell, table.cell_index)


def average_per_cell(token_logits, table):
    """Each token's logit replaced by the mean over its cell, `(B, T)` (`average_logits_per_cell`)."""
    logits_per_cell, _ = segmented.reduce_mean(token_logits, table.cell_index)
    return segmented.gather(logits_per_cell, table.cell_index)

