-- Next-edit suggestions (lua/fim_lsp/nextedit.lua) in a real headless Neovim, against
-- tests/editors/scripted_server.py (fixed fimLsp/inlineEdit answers, no model):
--
--   nvim -l editor-clients/neovim/tests/nextedit.lua
--
-- A change is typed in Normal mode; the scripted server answers with edits away from the
-- cursor. Checks the extmarks drawn (and the screen), that the jump key moves the cursor, that
-- accept changes the buffer, that dismiss clears, and that an answer for a buffer that changed
-- meanwhile is dropped. Prints one line per test and "nvim-nextedit: N passed, M failed".
local here = vim.fs.dirname(vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p'))
local plugin = vim.fs.dirname(here)
local repo = vim.fs.dirname(vim.fs.dirname(plugin))
local server = repo .. '/tests/editors/scripted_server.py'

local rpc = dofile(here .. '/rpc.lua')
local say = rpc.logger('nvim-nextedit')

local scratch = vim.fn.tempname()
vim.fn.mkdir(scratch .. '/proj', 'p')
local rules = scratch .. '/rules.json'
-- The cursor line's text before the cursor -> the edits the server answers with.
vim.fn.writefile({
  vim.json.encode({
    -- `size` renamed to `factor` in the def line: its use in the loop follows.
    { before = '^def scale\\(facto$', edits = { { start = { 3, 23 }, ['end'] = { 3, 27 }, text = 'factor' } } },
    -- A parameter added: two lines inserted above `return`, and `total` rounded.
    {
      before = '^def run\\(xs, verbos$',
      edits = {
        { start = { 2, 0 }, ['end'] = { 2, 0 }, text = '    if verbose:\n        print(total)\n' },
        { start = { 2, 11 }, ['end'] = { 2, 16 }, text = 'round(total)' },
      },
    },
    -- Answered a second late: the test changes the buffer meanwhile.
    { before = '^stale = $', after = '^1$', delay = 1.0, edits = { { start = { 1, 4 }, ['end'] = { 1, 9 }, text = 'fresh' } } },
  }),
}, rules)

local child = rpc.child(plugin, here .. '/child_init.lua', {
  FIM_LSP_SERVER = server,
  FIM_LSP_SCRIPT = rules,
  FIM_LSP_NEXT_EDIT = '1',
  XDG_CONFIG_HOME = scratch .. '/config',
  XDG_DATA_HOME = scratch .. '/data',
  XDG_STATE_HOME = scratch .. '/state',
}, scratch .. '/proj')
say('Neovim %s, scripted server %s', tostring(vim.version()), server)

local lua, input, lines = child.lua, child.input, child.lines
local wait_for, eq = rpc.wait_for, rpc.eq

local screen, cursor = child.screen, child.cursor
--- The next-edit extmarks: { row, col, end_row, end_col, hl_group, virt_text, virt_lines, above }.
local function marks()
  return lua([[
    local ns = require('fim_lsp.nextedit').ns
    local out = {}
    for _, m in ipairs(vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, { details = true })) do
      local d = m[4]
      local function texts(chunks)
        local t = {}
        for i, c in ipairs(chunks or {}) do
          t[i] = c[1] .. '|' .. c[2]
        end
        return t
      end
      local vl = {}
      for i, l in ipairs(d.virt_lines or {}) do
        vl[i] = texts(l)
      end
      out[#out + 1] = {
        row = m[2], col = m[3], end_row = d.end_row, end_col = d.end_col, hl = d.hl_group,
        virt_text = d.virt_text and texts(d.virt_text), virt_lines = d.virt_lines and vl,
        above = d.virt_lines_above or nil,
      }
    end
    return out
  ]])
end

--- A fresh buffer holding `content`, Normal mode, the cursor at (row, col) (1-based row).
local function start(content, row, col)
  input('<Esc>')
  child.command('silent! %bwipeout!')
  child.command('edit ' .. scratch .. '/proj/code.py')
  lua('vim.api.nvim_buf_set_lines(0, 0, -1, false, ...)', content)
  wait_for('the fim_lsp client', 10000, function()
    return lua("return #vim.lsp.get_clients({ bufnr = 0, name = 'fim_lsp' }) == 1") or nil
  end)
  lua('vim.api.nvim_win_set_cursor(0, { ... })', row, col)
end

--- Types `keys` and waits for the next-edit extmarks to be drawn.
local function change_and_wait(keys)
  input(keys)
  return wait_for('next-edit extmarks', 10000, function()
    local m = marks()
    return #m > 0 and m or nil
  end)
end

local test, counts = rpc.suite(say)

local SCALE = { 'def scale(size, xs):', '    out = []', '    for x in xs:', '        out.append(x * size)', '    return out' }
local RENAMED = { 'def scale(factor, xs):', SCALE[2], SCALE[3], SCALE[4], SCALE[5] }

test('a rename: the old use struck through, the new name inline after it', function()
  start(SCALE, 1, 10)
  local m = change_and_wait('ciwfactor<Esc>')
  eq({ 1, 15 }, cursor(), 'the cursor stays in the def line')
  eq({
    { row = 3, col = 23, end_row = 3, end_col = 27, hl = 'FimLspNextEditDelete' },
    { row = 3, col = 27, virt_text = { 'factor|FimLspNextEditAdd' } },
  }, m, 'extmarks')
  eq(RENAMED, lines(), 'nothing applied yet')
  eq('        out.append(x * sizefactor)', screen(4)[4], 'row 4 on the screen')
  eq(true, lua("return vim.api.nvim_get_hl(0, { name = 'FimLspNextEditDelete' }).strikethrough"), 'struck through')
end)

test('jump moves the cursor to the edit; accept applies it and clears', function()
  start(SCALE, 1, 10)
  change_and_wait('ciwfactor<Esc>')
  input('<M-n>')
  wait_for('the cursor at the edit', 2000, function()
    return vim.deep_equal(cursor(), { 4, 23 }) or nil
  end)
  eq(RENAMED, lines(), 'jumping changes nothing')
  input('<M-y>')
  local want = { RENAMED[1], RENAMED[2], RENAMED[3], '        out.append(x * factor)', RENAMED[5] }
  wait_for('the edit applied', 2000, function()
    return vim.deep_equal(lines(), want) or nil
  end)
  eq({}, marks(), 'no extmarks left')
  eq({ 4, 23 }, cursor(), 'the cursor at the applied edit')
end)

test('dismiss clears the edits and leaves the buffer alone', function()
  start(SCALE, 1, 10)
  change_and_wait('ciwfactor<Esc>')
  input('<M-e>')
  wait_for('no extmarks', 2000, function()
    return #marks() == 0 or nil
  end)
  eq(RENAMED, lines(), 'buffer unchanged')
  -- With nothing shown the keys fall through: <M-y> applies nothing.
  input('<M-y>')
  vim.wait(200)
  eq(RENAMED, lines(), 'accept with nothing shown')
end)

local RUN = { 'def run(xs):', '    total = sum(xs)', '    return total' }

test('two edits: lines inserted above a row as virtual lines; jump cycles; accept takes one', function()
  start(RUN, 1, 9)
  local m = change_and_wait('a, verbose<Esc>')
  eq({
    { row = 2, col = 0, virt_lines = { { '    if verbose:|FimLspNextEditAdd' }, { '        print(total)|FimLspNextEditAdd' } }, above = true },
    { row = 2, col = 11, end_row = 2, end_col = 16, hl = 'FimLspNextEditDelete' },
    { row = 2, col = 16, virt_text = { 'round(total)|FimLspNextEditAdd' } },
  }, m, 'extmarks')
  eq({ 'def run(xs, verbose):', RUN[2], '    if verbose:', '        print(total)', '    return totalround(total)' },
    screen(5), 'the screen')
  input('<M-n>')
  wait_for('the first edit', 2000, function()
    return vim.deep_equal(cursor(), { 3, 0 }) or nil
  end)
  input('<M-n>')
  wait_for('the second edit', 2000, function()
    return vim.deep_equal(cursor(), { 3, 11 }) or nil
  end)
  input('<M-n>')
  wait_for('back to the first', 2000, function()
    return vim.deep_equal(cursor(), { 3, 0 }) or nil
  end)
  input('<M-n><M-y>')
  wait_for('the second edit applied alone', 2000, function()
    return vim.deep_equal(lines(), { 'def run(xs, verbose):', RUN[2], '    return round(total)' }) or nil
  end)
end)

test('accept in Insert mode applies the whole-line insertion', function()
  start(RUN, 1, 9)
  change_and_wait('a, verbose<Esc>')
  input('a<M-y>')
  wait_for('the lines inserted', 2000, function()
    local want = { 'def run(xs, verbose):', RUN[2], '    if verbose:', '        print(total)', RUN[3] }
    return vim.deep_equal(lines(), want) or nil
  end)
  eq('i', lua('return vim.api.nvim_get_mode().mode'), 'still in Insert mode')
end)

local STALE = { 'stale = 0', 'y = stale' }

test('an answer shows after its delay when the buffer is unchanged', function()
  start(STALE, 1, 8)
  local m = change_and_wait('r1')
  eq(1, m[1].row, 'the edit on line 2')
end)

test('an answer for a buffer changed meanwhile is dropped', function()
  start(STALE, 1, 8)
  input('r1')
  -- The request leaves after the 100 ms debounce; the answer comes a second later.
  vim.wait(400)
  input('a2<Esc>')
  wait_for('the change', 2000, function()
    return lines()[1] == 'stale = 12' or nil
  end)
  vim.wait(2000)
  eq({}, marks(), 'nothing drawn from the stale answer')
end)

local passed, failed = counts()
child.quit(10000)
vim.fn.delete(scratch, 'rf')
io.stdout:write(('nvim-nextedit: %d passed, %d failed\n'):format(passed, failed))
os.exit(failed == 0 and 0 or 1)
