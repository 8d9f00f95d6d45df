"""Connected components of a graph on Spark, by alternating large-star and small-star rounds.

For links too many to cluster on the driver, the Spark engine first finds which records the links at or above
the clustering threshold connect, so that each component can be clustered on its own on an executor. The
algorithm is Kiveris et al.'s (Connected Components in MapReduce and Beyond, SoCC 2014): every round is two
joins and two aggregations over the edge list, and the number of rounds grows with the logarithm of the
largest component's size, not with its diameter as label propagation's does (a chain of records linked one to
the next, common in identity graphs, would take as many rounds as it has records there). It ends with every
node pointing at the smallest node of its component.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

# Far above what any real graph needs (about log2(n)^2 / a few): reaching it means something is wrong.
MAX_ROUNDS = 200


def _large_star(edges: DataFrame) -> DataFrame:
    """Each node's larger neighbours are attached to the smallest node of its neighbourhood (itself included)."""
    from pyspark.sql import functions as F

    both = edges.select(F.col("u").alias("x"), F.col("v").alias("y")).unionAll(
        edges.select(F.col("v").alias("x"), F.col("u").alias("y"))
    )
    smallest = both.groupBy("x").agg(F.least(F.min("y"), F.col("x")).alias("m"))
    larger = both.join(smallest, "x").where(F.col("y") > F.col("x"))
    return larger.select(F.col("y").alias("u"), F.col("m").alias("v")).distinct()


def _small_star(edges: DataFrame) -> DataFrame:
    """Each node and its smaller neighbours are attached to the smallest of them."""
    from pyspark.sql import functions as F

    smallest = edges.groupBy("u").agg(F.min("v").alias("m"))
    neighbours = edges.join(smallest, "u").select(F.col("v").alias("u"), F.col("m").alias("v"))
    return neighbours.unionAll(smallest.select("u", F.col("m").alias("v"))).where(F.col("u") != F.col("v")).distinct()


def _is_stars(edges: DataFrame) -> bool:
    """Whether every node points at one node only, which points at none: the fixed point of both rounds."""
    from pyspark.sql import functions as F

    if not edges.groupBy("u").agg(F.count("*").alias("n")).where(F.col("n") > 1).isEmpty():
        return False
    centers = edges.select(F.col("v").alias("u")).distinct()
    return edges.select("u").join(centers, "u").isEmpty()


def connected_components(edges: DataFrame) -> tuple[DataFrame, int]:
    """The connected components of an undirected graph.

    Args:
        edges: One row per edge, with the two node names in string columns ``src`` and ``dst``; direction,
            duplicates and self-loops do not matter.

    Returns:
        ``(node, component)`` for every node an edge names, ``component`` being the smallest node name of the
        component (the order Spark compares strings in: by UTF-8 bytes, as Rust does), and the rounds taken.
        The frame is checkpointed on the executors; unpersist is not needed.

    Raises:
        RuntimeError: The rounds did not converge within :data:`MAX_ROUNDS` (they always do on a finite graph;
            this guards against a broken Spark setup looping for hours).
    """
    from pyspark.sql import functions as F

    current = (
        edges.select(F.greatest("src", "dst").alias("u"), F.least("src", "dst").alias("v"))
        .where(F.col("u") != F.col("v"))
        .distinct()
        .localCheckpoint()
    )
    rounds = 0
    while not _is_stars(current):
        rounds += 1
        if rounds > MAX_ROUNDS:
            raise RuntimeError(f"connected components did not converge within {MAX_ROUNDS} rounds")
        # Checkpointed each round: the plan would otherwise grow with every round.
        current = _small_star(_large_star(current)).localCheckpoint()
    centers = current.select(F.col("v").alias("node")).distinct().select("node", F.col("node").alias("component"))
    members = current.select(F.col("u").alias("node"), F.col("v").alias("component"))
    return members.unionAll(centers), rounds
