import { z } from 'zod';

/**
 * The answers and headers of the public API as zod schemas. The handler's types and the QA
 * header check use them, and /openapi.json is generated from them (openapi.ts), so the document
 * and the code share one description. The query schema lives with its parser in params.ts.
 */

export const EXP_GROUPS = ['control', 'test'] as const;

export const postSchema = z
  .object({ id: z.int(), text: z.string(), topic: z.string() })
  .meta({ id: 'Post', description: 'A post as in post_text_df.' });

export const postListSchema = z.array(postSchema).meta({ id: 'PostList' });

export const abAnswerSchema = z
  .object({ exp_group: z.enum(EXP_GROUPS), recommendations: postListSchema })
  .meta({ id: 'AbAnswer' });

export const errorSchema = z
  .object({
    error: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    /** A refused reload: the model versions that keep serving. */
    serving: z.array(z.string()).optional(),
  })
  .meta({ id: 'Error' });

/** The answer of POST /admin/reload (the Reloader's report). */
export const reloadedSchema = z
  .object({
    status: z.literal('reloaded'),
    generation: z.int(),
    previous: z.array(z.string()),
    models: z.array(z.string()),
    users: z.int(),
    posts: z.int(),
    likes: z.int(),
    loadMs: z.number(),
  })
  .meta({ id: 'Reloaded' });

/** X-Exp-Group: the group a QA tester forces (qa.ts checks the token first). */
export const expGroupHeader = z.enum(EXP_GROUPS);

// Client-supplied ids are echoed into logs and headers: keep them short and printable.
export const REQUEST_ID = /^[\w.:@/-]{1,128}$/;

export const recommendationsHeaders = z.object({
  'X-Exp-Group': expGroupHeader.optional().meta({
    param: {
      description: 'QA only: forces the A/B group; requires X-QA-Token. Forced answers are not logged.',
    },
  }),
  'X-QA-Token': z.string().optional(),
  'X-Request-Id': z
    .string()
    .regex(REQUEST_ID)
    .optional()
    .meta({ param: { description: 'Echoed back; generated when absent or not of this form.' } }),
});
