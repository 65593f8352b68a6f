-- The embedding model each kept gap-question vector came from (index.embed.MODEL_ID): the report embeds a question
-- again when the model has changed since, as the index does, instead of comparing vectors of two models. Vectors
-- kept before this step name no model, so each is computed once more.
ALTER TABLE gap_questions ADD COLUMN vector_model TEXT;
